/**
 * The page's HTML and CSS, as strings so that `tsc` ships them in build/ with no copy step (the script is
 * src/dashboard/assets/app.ts, compiled to app.js beside it). The HTML is a fixed skeleton with no data in it:
 * everything shown is filled in by app.js with textContent, never parsed as HTML.
 */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shipgate deployments</title>
<link rel="stylesheet" href="/styles.css">
<script type="module" src="/app.js"></script>
</head>
<body>
<header class="top">
  <h1>shipgate</h1>
  <p id="who"></p>
  <p id="live" role="status" aria-live="polite">connecting…</p>
</header>
<main>
  <section aria-labelledby="grid-title">
    <h2 id="grid-title">Environments</h2>
    <div class="scroll"><table id="grid"><caption>What serves where: choose an environment for its timeline and DORA metrics</caption></table></div>
  </section>
  <section aria-labelledby="waiting-title">
    <h2 id="waiting-title">Waiting releases</h2>
    <div id="waiting" class="cards"></div>
  </section>
  <section aria-labelledby="env-title" id="env-section" hidden>
    <h2 id="env-title">Environment</h2>
    <div id="env-actions"></div>
    <h3 id="dora-title">DORA metrics</h3>
    <form id="dora-form" class="inline">
      <label for="period">Period</label>
      <select id="period" name="period">
        <option value="7d">7 days</option>
        <option value="30d" selected>30 days</option>
        <option value="90d">90 days</option>
        <option value="24h">24 hours</option>
      </select>
    </form>
    <div id="dora" aria-live="polite"></div>
    <h3>Timeline</h3>
    <ol id="timeline" class="timeline"></ol>
  </section>
</main>
<dialog id="action-dialog" aria-labelledby="action-title">
  <form id="action-form" method="dialog">
    <h2 id="action-title">Action</h2>
    <label for="action-text" id="action-label">Reason</label>
    <textarea id="action-text" rows="3" maxlength="3000"></textarea>
    <p id="action-error" class="error" role="alert"></p>
    <div class="buttons">
      <button type="button" id="action-cancel">Cancel</button>
      <button type="submit" id="action-ok">Send</button>
    </div>
  </form>
</dialog>
</body>
</html>
`;

export const STYLES_CSS = `:root {
  --fg: #1b1f24; --muted: #4a5360; --bg: #ffffff; --panel: #f4f6f8; --line: #c9d1d9;
  --ok-fg: #0b5d1e; --ok-bg: #dff3e4; --run-fg: #0a3d8f; --run-bg: #ddeaff;
  --down-fg: #ffffff; --down-bg: #b3001b; --hold-fg: #6b4500; --hold-bg: #fff1cc; --focus: #0057d8;
  font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg);
}
body { margin: 0; line-height: 1.4; }
.top { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: baseline; padding: .75rem 1rem;
  border-bottom: 1px solid var(--line); }
.top h1 { margin: 0; font-size: 1.3rem; }
.top p { margin: 0; color: var(--muted); }
main { padding: 0 1rem 2rem; max-width: 90rem; }
h2 { font-size: 1.15rem; margin: 1.25rem 0 .5rem; }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; min-width: 100%; }
caption { text-align: left; color: var(--muted); padding-bottom: .3rem; }
th, td { border: 1px solid var(--line); padding: .35rem .5rem; vertical-align: top; text-align: left; }
thead th { background: var(--panel); }
td.none { color: var(--muted); }
.cell { display: block; width: 100%; text-align: left; font: inherit; color: inherit; background: none;
  border: 0; padding: .15rem; cursor: pointer; }
.cell[aria-pressed="true"] { outline: 2px solid var(--focus); }
button, select, textarea, a { font: inherit; }
button { padding: .25rem .6rem; border: 1px solid var(--muted); border-radius: 4px; background: var(--bg);
  color: var(--fg); cursor: pointer; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.version { font-weight: 600; font-family: ui-monospace, monospace; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: 3px; font-size: .85rem; font-weight: 600; }
.badge.serving { color: var(--ok-fg); background: var(--ok-bg); }
.badge.deploying { color: var(--run-fg); background: var(--run-bg); }
.badge.down { color: var(--down-fg); background: var(--down-bg); }
.badge.none { color: var(--muted); background: var(--panel); }
.badge.hold { color: var(--hold-fg); background: var(--hold-bg); }
.meta { color: var(--muted); font-size: .9rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr)); gap: .75rem; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; background: var(--panel);
  overflow-wrap: anywhere; }
.card h3 { margin: 0 0 .3rem; }
.card ul { margin: .2rem 0; padding-left: 1.2rem; }
code { font-family: ui-monospace, monospace; font-size: .85rem; background: var(--bg);
  border: 1px solid var(--line); padding: .05rem .3rem; overflow-wrap: anywhere; }
.cli { margin: .3rem 0; }
.buttons { display: flex; gap: .5rem; flex-wrap: wrap; margin-top: .4rem; }
.error { color: #8a0015; font-weight: 600; }
.timeline { list-style: none; padding: 0; margin: 0; }
.timeline li { border-left: 3px solid var(--line); padding: .2rem .6rem; margin-bottom: .4rem;
  overflow-wrap: anywhere; }
.timeline li.failed, .timeline li.rolled-back { border-left-color: var(--down-bg); }
.timeline li.succeeded { border-left-color: var(--ok-fg); }
.timeline li.drift { border-left-color: var(--hold-fg); }
.inline { display: flex; gap: .5rem; align-items: center; }
.dora { display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr)); gap: .75rem; }
.dora figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: .5rem; }
.dora figcaption { font-weight: 600; }
.dora .value { font-size: 1.3rem; font-weight: 700; }
.dora svg { width: 100%; height: auto; }
.dora .bar { fill: #2f6fdb; }
.dora .bar.bad { fill: #b3001b; }
.dora .dot { fill: #0b5d1e; }
.dora .axis { stroke: var(--muted); stroke-width: 1; }
dialog { max-width: 32rem; width: calc(100% - 2rem); }
dialog textarea { width: 100%; box-sizing: border-box; }
@media (max-width: 40rem) {
  main { padding: 0 .5rem 1rem; }
  th, td { padding: .25rem; font-size: .9rem; }
  .cards, .dora { grid-template-columns: 1fr; }
}
`;
