/**
 * The dashboard page (browser code, compiled by tsc to app.js; no framework, no imports). It renders the state
 * from `GET /events` (a snapshot, then patches) and never parses data as HTML: every text goes through
 * createTextNode / textContent, every attribute through setAttribute, plots are SVG elements built one by one.
 * Without a login (`GET /api/me` says `login: null`) it shows the CLI command for each action instead of a button.
 */

// ---- the shapes the server sends (src/dashboard/view.ts, src/policy/dora.ts) ----

interface Freeze {
  until: string;
  by: string;
  reason: string;
}
interface Verdict {
  allowed: boolean;
  blockedBy: string | null;
  until: string | null;
  reason: string;
}
interface Cell {
  app: string;
  env: string;
  current: { version: string; since: string; by: string; approvers: string[]; commit: string | null } | null;
  health: 'serving' | 'deploying' | 'down' | 'none';
  healthDetail: string | null;
  running: string | null;
  queued: number;
  freezes: Freeze[];
  windows: Verdict | null;
  waiting: string[];
  drift: string | null;
  auditDegraded: boolean;
  tornDown: boolean;
  rollbackCommand: string;
}
interface Release {
  id: string;
  app: string;
  version: string;
  actor: string;
  commit: string;
  stage: string;
  state: string;
  env: string | null;
  since: string | null;
  rules: { group: string; count: number; have: number }[];
  approved: { by: string; via: string; at: string; comment: string | null }[];
  refused: { by: string; via: string | null; at: string; action: string; reason: string }[];
  eligible: string[];
  allowSelfApproval: boolean;
  blockedBy: string | null;
  blockedUntil: string | null;
  expiresAt: string | null;
  auditDegraded: boolean;
  link: string | null;
  commands: { approve: string; reject: string };
}
interface State {
  seq: number;
  at: string;
  apps: { name: string; environments: string[] }[];
  cells: Record<string, Cell>;
  releases: Record<string, Release>;
}
interface Patch {
  seq: number;
  apps?: State['apps'];
  cells: Record<string, Cell | null>;
  releases: Record<string, Release | null>;
}
interface Row {
  version: string;
  action: string;
  outcome: string;
  actor: string;
  approvers: string[];
  reason: string | null;
  fromVersion: string | null;
  at: string;
  automatic: boolean;
  link: string | null;
}
interface Bucket {
  from: number;
  to: number;
  deployments: number;
  changes: number;
  failures: number;
  leadTimeMs: number | null;
  restoreMs: number | null;
}
interface Dora {
  deployments: number;
  deploymentsPerDay: number;
  leadTimeMs: number | null;
  leadTimeBasis: string | null;
  changes: number;
  failures: number;
  changeFailureRate: number | null;
  timeToRestoreMs: number | null;
  openIncidents: number;
  buckets: Bucket[];
}
interface Me {
  login: string | null;
  csrf?: string;
  /** Set by the read-only server (no login configured); absent when a login is. */
  readOnly?: boolean;
}

let state: State = { seq: 0, at: '', apps: [], cells: {}, releases: {} };
let me: Me = { login: null };
let selected: { app: string; env: string } | null = null;

// ---- DOM helpers: text only ----

type Child = Node | string | null | undefined | false;

function h(
  tag: string,
  attrs: Record<string, string | null | undefined> = {},
  ...children: Child[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
function s(tag: string, attrs: Record<string, string | number> = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.append(c);
  return el;
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

function duration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 60_000) return `${Math.round(abs / 1000)}s`;
  if (abs < 3_600_000) return `${Math.round(abs / 60_000)}m`;
  if (abs < 172_800_000) return `${(abs / 3_600_000).toFixed(1)}h`;
  return `${(abs / 86_400_000).toFixed(1)}d`;
}

/** A <time> that says how long ago (or until when) and keeps saying it as time passes. */
function when(iso: string | null, mode: 'ago' | 'until' = 'ago'): Node {
  if (!iso) return document.createTextNode('—');
  const t = h('time', { datetime: iso, title: new Date(iso).toLocaleString(), 'data-rel': mode });
  t.textContent = relative(iso, mode);
  return t;
}
function relative(iso: string, mode: string): string {
  const d = Date.parse(iso) - Date.now();
  if (mode === 'until') return d > 0 ? `in ${duration(d)} (${new Date(iso).toLocaleTimeString()})` : 'now';
  return `${duration(d)} ago`;
}
setInterval(() => {
  for (const t of document.querySelectorAll<HTMLTimeElement>('time[data-rel]'))
    t.textContent = relative(t.dateTime, t.dataset.rel ?? 'ago');
}, 1000);

// ---- the grid ----

function badge(health: Cell['health'], detail: string | null): HTMLElement {
  const label = { serving: 'serving', deploying: 'deploying', down: 'DOWN', none: 'nothing deployed' }[
    health
  ];
  return h('span', { class: `badge ${health}`, title: detail }, label);
}

function cellContent(c: Cell): HTMLElement {
  const lines: Child[] = [];
  lines.push(
    h('span', { class: 'version' }, c.current ? c.current.version : '—'),
    ' ',
    badge(c.health, c.healthDetail),
  );
  if (c.health === 'down' && c.healthDetail) lines.push(h('div', { class: 'meta' }, c.healthDetail));
  if (c.running) lines.push(h('div', { class: 'meta' }, `now: ${c.healthDetail ?? c.running}`));
  if (c.current)
    lines.push(
      h(
        'div',
        { class: 'meta' },
        'since ',
        when(c.current.since),
        ` by ${c.current.by}`,
        c.current.approvers.length ? `, approved by ${c.current.approvers.join(', ')}` : '',
      ),
    );
  for (const f of c.freezes)
    lines.push(
      h(
        'div',
        {},
        h('span', { class: 'badge hold' }, 'frozen'),
        ` by ${f.by} until `,
        when(f.until, 'until'),
        ` — ${f.reason}`,
      ),
    );
  if (c.windows)
    lines.push(
      h(
        'div',
        { class: 'meta' },
        c.windows.allowed
          ? 'window open'
          : h('span', { class: 'badge hold' }, `held: ${c.windows.blockedBy ?? 'window'}`),
        c.windows.until ? ' · changes ' : '',
        c.windows.until ? when(c.windows.until, 'until') : '',
      ),
    );
  if (c.waiting.length)
    lines.push(h('div', {}, h('span', { class: 'badge hold' }, `${c.waiting.length} waiting at the gate`)));
  if (c.queued) lines.push(h('div', { class: 'meta' }, `${c.queued} queued`));
  if (c.drift) lines.push(h('div', { class: 'error' }, c.drift));
  if (c.auditDegraded) lines.push(h('div', { class: 'error' }, 'audit degraded'));
  if (c.tornDown) lines.push(h('div', { class: 'meta' }, 'torn down'));
  const pressed = selected?.app === c.app && selected.env === c.env;
  const b = h(
    'button',
    {
      type: 'button',
      class: 'cell',
      'data-focus': `cell:${c.app}/${c.env}`,
      'aria-pressed': String(pressed),
      'aria-label': `${c.app} ${c.env}: ${c.current ? `${c.current.version}, ${c.health}` : 'nothing deployed'}. Show timeline`,
    },
    ...lines,
  );
  b.addEventListener('click', () => select(c.app, c.env));
  return b;
}

function renderGrid(): void {
  const table = byId<HTMLTableElement>('grid');
  const caption = table.caption;
  const envs: string[] = [];
  for (const a of state.apps) for (const e of a.environments) if (!envs.includes(e)) envs.push(e);
  const head = h(
    'thead',
    {},
    h('tr', {}, h('th', { scope: 'col' }, 'App'), ...envs.map((e) => h('th', { scope: 'col' }, e))),
  );
  const body = h(
    'tbody',
    {},
    ...state.apps.map((a) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, a.name),
        ...envs.map((e) => {
          const c = state.cells[`${a.name}/${e}`];
          return c
            ? h('td', { 'data-cell': `${a.name}/${e}` }, cellContent(c))
            : h('td', { class: 'none' }, 'not configured');
        }),
      ),
    ),
  );
  table.replaceChildren(...(caption ? [caption] : []), head, body);
}

// ---- waiting releases ----

function cli(command: string): HTMLElement {
  return h('p', { class: 'cli' }, 'Run: ', h('code', {}, command));
}

function renderWaiting(): void {
  const list = Object.values(state.releases).filter((r) => r.state === 'running');
  const box = byId('waiting');
  if (list.length === 0) {
    box.replaceChildren(h('p', { class: 'meta' }, 'No release is running.'));
    return;
  }
  box.replaceChildren(
    ...list.map((r) => {
      const atGate = r.env !== null;
      const items: Child[] = [
        h('h3', {}, `${r.app} ${r.version}`, r.env ? ` → ${r.env}` : ''),
        h('div', { class: 'meta' }, `${r.stage} · started by ${r.actor} · commit ${r.commit || '—'}`),
      ];
      if (r.rules.length)
        items.push(h('div', {}, 'Rules: ', r.rules.map((x) => `${x.group} ${x.have}/${x.count}`).join(', ')));
      if (r.approved.length)
        items.push(
          h(
            'ul',
            { 'aria-label': 'approvals' },
            ...r.approved.map((a) =>
              h('li', {}, `${a.by} via ${a.via} `, when(a.at), a.comment ? ` — “${a.comment}”` : ''),
            ),
          ),
        );
      if (r.stage === 'awaiting-approval')
        items.push(
          h(
            'div',
            {},
            'Can still approve: ',
            r.eligible.length ? r.eligible.join(', ') : 'nobody (no eligible approver is left)',
            r.allowSelfApproval ? '' : ` (not ${r.actor}, who started it)`,
          ),
        );
      if (r.expiresAt)
        items.push(h('div', { class: 'meta' }, 'Approval expires ', when(r.expiresAt, 'until')));
      if (r.blockedBy)
        items.push(
          h(
            'div',
            {},
            h('span', { class: 'badge hold' }, `held by ${r.blockedBy}`),
            r.blockedUntil ? ' until ' : '',
            r.blockedUntil ? when(r.blockedUntil, 'until') : '',
          ),
        );
      else if (r.stage === 'wait-timer' && r.blockedUntil)
        items.push(h('div', {}, 'Wait timer ends ', when(r.blockedUntil, 'until')));
      for (const x of r.refused.slice(-3))
        items.push(h('div', { class: 'meta' }, `refused: ${x.by} (${x.action}) — ${x.reason}`));
      if (r.auditDegraded) items.push(h('div', { class: 'error' }, 'audit degraded'));
      if (r.link)
        items.push(
          h(
            'p',
            {},
            h(
              'a',
              { href: r.link, rel: 'noreferrer', target: '_blank', 'data-focus': `link:${r.id}` },
              'Open in the Temporal UI',
            ),
          ),
        );
      if (atGate) items.push(...actionsFor(r));
      return h('article', { class: 'card', 'data-release': r.id }, ...items);
    }),
  );
}

function actionsFor(r: Release): Child[] {
  if (!me.login) return [cli(r.commands.approve), cli(r.commands.reject)];
  const approve = h('button', { type: 'button', 'data-focus': `approve:${r.id}` }, `Approve ${r.version}`);
  approve.addEventListener('click', () =>
    ask(`Approve ${r.app} ${r.version}`, 'Comment (optional)', false, (text) =>
      act('approve', { app: r.app, version: r.version, ...(text ? { comment: text } : {}) }),
    ),
  );
  const reject = h('button', { type: 'button', 'data-focus': `reject:${r.id}` }, `Reject ${r.version}`);
  reject.addEventListener('click', () =>
    ask(`Reject ${r.app} ${r.version}`, 'Reason', true, (text) =>
      act('reject', { app: r.app, version: r.version, reason: text }),
    ),
  );
  return [h('div', { class: 'buttons' }, approve, reject)];
}

// ---- actions (behind the login) ----

let pending: ((text: string) => Promise<string | null>) | null = null;

function ask(
  title: string,
  label: string,
  required: boolean,
  run: (text: string) => Promise<string | null>,
): void {
  const dialog = byId<HTMLDialogElement>('action-dialog');
  byId('action-title').textContent = title;
  byId('action-label').textContent = label;
  const text = byId<HTMLTextAreaElement>('action-text');
  text.value = '';
  text.required = required;
  byId('action-error').textContent = '';
  pending = run;
  dialog.showModal();
  text.focus();
}

async function act(kind: string, body: Record<string, string>): Promise<string | null> {
  const res = await fetch(`/api/actions/${kind}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf ?? '' },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (res.ok) return null;
  const answer = (await res.json().catch(() => null)) as { error?: string } | null;
  return answer?.error ?? `refused (${res.status})`;
}

function wireDialog(): void {
  const dialog = byId<HTMLDialogElement>('action-dialog');
  byId('action-cancel').addEventListener('click', () => dialog.close());
  byId<HTMLFormElement>('action-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = byId<HTMLTextAreaElement>('action-text');
    if (text.required && !text.value.trim()) {
      byId('action-error').textContent = 'Please say why.';
      return;
    }
    const run = pending;
    if (!run) return dialog.close();
    byId('action-error').textContent = 'Sending…';
    void run(text.value.trim()).then(
      (refusal) => {
        if (refusal === null) dialog.close();
        else byId('action-error').textContent = refusal;
      },
      (err: unknown) => (byId('action-error').textContent = String(err)),
    );
  });
}

// ---- one environment: actions, DORA, timeline ----

function select(app: string, env: string): void {
  selected = { app, env };
  byId('env-section').hidden = false;
  renderGrid();
  renderSelected();
  void loadTimeline();
  void loadDora();
}

function renderSelected(): void {
  if (!selected) return;
  const c = state.cells[`${selected.app}/${selected.env}`];
  byId('env-title').textContent = `${selected.app} / ${selected.env}`;
  const box = byId('env-actions');
  if (!c) return box.replaceChildren();
  if (!c.current) return box.replaceChildren(h('p', { class: 'meta' }, 'Nothing deployed here yet.'));
  if (!me.login) return box.replaceChildren(h('p', {}, 'Roll back: '), cli(c.rollbackCommand));
  const b = h(
    'button',
    { type: 'button', 'data-focus': `rollback:${c.app}/${c.env}` },
    `Roll back ${c.app}/${c.env}`,
  );
  b.addEventListener('click', () =>
    ask(`Roll back ${c.app}/${c.env} (now ${c.current?.version ?? '—'})`, 'Reason', true, (text) =>
      act('rollback', { app: c.app, env: c.env, reason: text }),
    ),
  );
  box.replaceChildren(h('div', { class: 'buttons' }, b));
}

async function loadTimeline(): Promise<void> {
  if (!selected) return;
  const { app, env } = selected;
  const res = await fetch(`/api/timeline?app=${encodeURIComponent(app)}&env=${encodeURIComponent(env)}`);
  if (!res.ok || selected?.app !== app || selected.env !== env) return;
  const { rows } = (await res.json()) as { rows: Row[] };
  const list = byId('timeline');
  if (rows.length === 0)
    return list.replaceChildren(h('li', { class: 'meta' }, 'Nothing deployed here yet.'));
  list.replaceChildren(
    ...rows.map((r) => {
      const what =
        r.action === 'rollback'
          ? `${r.automatic ? 'AUTOMATIC ROLLBACK' : 'ROLLBACK'} ${r.fromVersion ?? '?'} → ${r.version}`
          : r.action === 'drift'
            ? `DRIFT from ${r.version}`
            : r.action === 'adopt'
              ? `ADOPT ${r.version}`
              : `deploy ${r.version}${r.fromVersion ? ` (from ${r.fromVersion})` : ''}`;
      return h(
        'li',
        { class: `${r.outcome} ${r.action}` },
        h('strong', {}, what),
        ` ${r.outcome} · `,
        when(r.at),
        ` · by ${r.actor}`,
        r.approvers.length ? `, approved by ${r.approvers.join(', ')}` : '',
        r.reason ? h('div', { class: 'meta' }, r.reason) : null,
        r.link
          ? h('a', { href: r.link, rel: 'noreferrer', target: '_blank' }, 'release in the Temporal UI')
          : null,
      );
    }),
  );
}

function chart(
  title: string,
  buckets: Bucket[],
  value: (b: Bucket) => number | null,
  kind: 'bar' | 'dot',
  bad?: (b: Bucket) => number,
): SVGElement {
  const W = 300;
  const H = 90;
  const values = buckets.map(value);
  const max = Math.max(1, ...values.map((v) => v ?? 0));
  const w = W / Math.max(1, buckets.length);
  const marks: SVGElement[] = [];
  buckets.forEach((b, i) => {
    const v = values[i];
    if (v === null || v === undefined) return;
    const y = H - (v / max) * (H - 6);
    if (kind === 'bar') {
      marks.push(
        s(
          'rect',
          { class: 'bar', x: i * w + 1, y, width: Math.max(1, w - 2), height: H - y },
          s('title', {}, `${new Date(b.from).toLocaleDateString()}: ${v}`),
        ),
      );
      const f = bad?.(b) ?? 0;
      if (f > 0) {
        const fy = H - (f / max) * (H - 6);
        marks.push(
          s('rect', { class: 'bar bad', x: i * w + 1, y: fy, width: Math.max(1, w - 2), height: H - fy }),
        );
      }
    } else
      marks.push(
        s(
          'circle',
          { class: 'dot', cx: i * w + w / 2, cy: y, r: 3 },
          s('title', {}, `${new Date(b.from).toLocaleDateString()}: ${duration(v)}`),
        ),
      );
  });
  return s(
    'svg',
    { viewBox: `0 0 ${W} ${H + 2}`, role: 'img', 'aria-label': title },
    s('line', { class: 'axis', x1: 0, y1: H, x2: W, y2: H }),
    ...marks,
  );
}

async function loadDora(): Promise<void> {
  if (!selected) return;
  const { app, env } = selected;
  const period = byId<HTMLSelectElement>('period').value;
  const res = await fetch(
    `/api/dora?app=${encodeURIComponent(app)}&env=${encodeURIComponent(env)}&period=${encodeURIComponent(period)}`,
  );
  if (!res.ok || selected?.app !== app || selected.env !== env) return;
  const d = (await res.json()) as Dora;
  const pct = d.changeFailureRate === null ? '—' : `${Math.round(d.changeFailureRate * 100)}%`;
  const basis =
    d.leadTimeBasis === 'commit'
      ? 'commit → serving'
      : d.leadTimeBasis === 'release-start'
        ? 'release start → serving (commit times unknown)'
        : d.leadTimeBasis === 'deploy-request'
          ? 'deploy request → serving (commit and release times unknown)'
          : '';
  const fig = (title: string, value: string, note: string, plot: SVGElement) =>
    h(
      'figure',
      {},
      h('figcaption', {}, title),
      h('div', { class: 'value' }, value),
      h('div', { class: 'meta' }, note),
      plot,
    );
  byId('dora').replaceChildren(
    h(
      'div',
      { class: 'dora' },
      fig(
        'Deployment frequency',
        `${d.deploymentsPerDay.toFixed(2)}/day`,
        `${d.deployments} deploys served`,
        chart('Deploys per interval', d.buckets, (b) => b.deployments, 'bar'),
      ),
      fig(
        'Lead time',
        d.leadTimeMs === null ? '—' : duration(d.leadTimeMs),
        basis ? `median, ${basis}` : 'no deploy served',
        chart('Median lead time per interval', d.buckets, (b) => b.leadTimeMs, 'dot'),
      ),
      fig(
        'Change failure rate',
        pct,
        `${d.failures} of ${d.changes} deploys failed or were rolled back`,
        chart(
          'Deploys (blue) and failures (red) per interval',
          d.buckets,
          (b) => b.changes,
          'bar',
          (b) => b.failures,
        ),
      ),
      fig(
        'Time to restore',
        d.timeToRestoreMs === null ? '—' : duration(d.timeToRestoreMs),
        `median${d.openIncidents ? `; ${d.openIncidents} not restored yet` : ''}`,
        chart('Median time to restore per interval', d.buckets, (b) => b.restoreMs, 'dot'),
      ),
    ),
  );
}

// ---- live state ----

function applyPatch(p: Patch): void {
  if (p.apps) state.apps = p.apps;
  for (const [k, c] of Object.entries(p.cells)) {
    if (c) state.cells[k] = c;
    else delete state.cells[k];
  }
  for (const [k, r] of Object.entries(p.releases)) {
    if (r) state.releases[k] = r;
    else delete state.releases[k];
  }
  state.seq = p.seq;
}

/**
 * Re-renders from the state. The grid and the cards are rebuilt, so the control that had the keyboard focus is
 * replaced: its successor (the same `data-focus` key) takes the focus back, or a keyboard user would be thrown
 * to the top of the page by every live update.
 */
function renderAll(changedCells: string[] = []): void {
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.focus;
  renderGrid();
  renderWaiting();
  renderSelected();
  if (focused && (!document.activeElement || document.activeElement === document.body))
    document.querySelector<HTMLElement>(`[data-focus="${CSS.escape(focused)}"]`)?.focus();
  if (selected && changedCells.includes(`${selected.app}/${selected.env}`)) {
    void loadTimeline();
    void loadDora();
  }
  document.body.dataset.seq = String(state.seq);
}

function connect(): void {
  const live = byId('live');
  const events = new EventSource('/events');
  events.addEventListener('snapshot', (ev) => {
    state = JSON.parse((ev as MessageEvent<string>).data) as State;
    live.textContent = 'live';
    renderAll(selected ? [`${selected.app}/${selected.env}`] : []);
  });
  events.addEventListener('patch', (ev) => {
    const p = JSON.parse((ev as MessageEvent<string>).data) as Patch;
    applyPatch(p);
    renderAll(Object.keys(p.cells));
  });
  events.addEventListener('error', () => (live.textContent = 'reconnecting…'));
}

async function start(): Promise<void> {
  wireDialog();
  byId('period').addEventListener('change', () => void loadDora());
  const res = await fetch('/api/me', { credentials: 'same-origin' }).catch(() => null);
  me = res?.ok ? ((await res.json()) as Me) : { login: null };
  const who = byId('who');
  if (me.login) who.textContent = `signed in as ${me.login}`;
  else if (res?.ok && !me.readOnly)
    who.replaceChildren(
      h('a', { href: '/auth/login?return=/' }, 'Sign in'),
      ' to approve, reject and roll back here',
    );
  else who.textContent = 'read-only: actions show the CLI command to run';
  connect();
}

void start();

export {};
