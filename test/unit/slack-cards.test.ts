import { describe, expect, it } from 'vitest';
import {
  ACTION,
  describeStage,
  escapeText,
  overrideNotice,
  parseReleaseValue,
  parseRollbackValue,
  releaseCard,
  releaseOutcome,
  releaseUrl,
  releaseValue,
  rollbackModal,
  rollbackOutcome,
  rollbackValue,
  ROLLBACK_VIEW,
  tallyText,
  type CardContext,
  type SlackBlock,
} from '../../src/integrations/slack/cards.js';
import type { LedgerEntry } from '../../src/policy/ledger.js';
import type { ReleaseStatus } from '../../src/workflows/types.js';
import type { Stage } from '../../src/protocol/stages.js';

const ctx: CardContext = {
  people: { alice: { slack: 'U0ALICE' }, bob: { slack: 'U0BOB' }, dave: { slack: 'U0DAVE' } },
  groups: { 'team-leads': ['alice', 'bob', 'carol'], security: ['bob'] },
  uiUrl: 'http://127.0.0.1:8233/',
  namespace: 'default',
};

function status(over: Partial<ReleaseStatus> = {}): ReleaseStatus {
  return {
    app: 'hello',
    version: '1.2.0',
    commit: 'abc123def',
    branch: 'main',
    actor: 'dave',
    state: 'running',
    stage: 'awaiting-approval',
    reason: null,
    startedAt: '2026-01-05T10:00:00.000Z',
    endedAt: null,
    approvals: {
      environment: 'production',
      required: [{ group: 'team-leads', count: 2 }],
      given: [],
      refused: [],
    },
    environments: {
      staging: { state: 'succeeded', at: '2026-01-05T10:01:00.000Z' },
      production: { state: 'waiting', at: '2026-01-05T10:01:01.000Z' },
    },
    blockedBy: null,
    blockedUntil: null,
    override: null,
    ...over,
  };
}

const buttons = (blocks: SlackBlock[]) =>
  blocks
    .filter((b) => b.type === 'actions')
    .flatMap(
      (b) => b.elements as { action_id: string; value: string; text: { text: string }; style?: string }[],
    );

const allText = (blocks: SlackBlock[]) => JSON.stringify(blocks);
/** The release's first-execution run id, as Temporal gives it. */
const RUN = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';

describe('release card', () => {
  it('shows app, version, commit, actor, the staging result with a link, and the tally', () => {
    const card = releaseCard(status(), ctx);
    const text = allText(card.blocks);
    expect(card.blocks[0]).toMatchObject({
      type: 'header',
      text: { type: 'plain_text', text: 'hello 1.2.0 → production' },
    });
    expect(text).toContain('hello');
    expect(text).toContain('1.2.0');
    expect(text).toContain('`abc123def` on main');
    expect(text).toContain('<@U0DAVE>');
    expect(text).toMatch(/✅ \*staging\* succeeded/);
    expect(text).toContain(
      'http://127.0.0.1:8233/namespaces/default/workflows/release%2Fhello%2F1.2.0|Release in the Temporal UI',
    );
    expect(text).toContain('team-leads 0/2');
    expect(card.text).toBe('hello 1.2.0 → production: waiting for approval (team-leads 0/2)');
  });

  it('has Approve and Reject buttons with the Contract action ids and {"app","version","run"} values', () => {
    const b = buttons(releaseCard(status(), ctx, RUN).blocks);
    expect(b.map((x) => x.action_id)).toEqual([ACTION.approve, ACTION.reject]);
    expect(ACTION).toEqual({
      approve: 'shipgate.approve',
      reject: 'shipgate.reject',
      rollback: 'shipgate.rollback',
    });
    for (const x of b) expect(JSON.parse(x.value)).toEqual({ app: 'hello', version: '1.2.0', run: RUN });
    expect(b.map((x) => x.text.text)).toEqual(['Approve', 'Reject']);
    expect(b[0]!.style).toBe('primary');
    expect(b[1]).toMatchObject({ style: 'danger', confirm: { confirm: { text: 'Reject' } } });
  });

  it('shows no buttons while the release’s run is unknown (a click must name the run), and points to the CLI', () => {
    const card = releaseCard(status(), ctx);
    expect(buttons(card.blocks)).toEqual([]);
    expect(allText(card.blocks)).toContain('Decide with the CLI: `shipgate approve hello 1.2.0`');
    expect(card.text).toBe('hello 1.2.0 → production: waiting for approval (team-leads 0/2)');
  });

  it('updates the tally and lists approvers as approvals arrive (counting members per rule)', () => {
    const s = status({
      approvals: {
        environment: 'production',
        required: [
          { group: 'team-leads', count: 2 },
          { group: 'security', count: 1 },
        ],
        given: [{ by: 'alice', at: '2026-01-05T10:02:00.000Z', via: 'slack', comment: 'lgtm <b>' }],
        refused: [],
      },
    });
    const card = releaseCard(s, ctx, RUN);
    const text = allText(card.blocks);
    expect(text).toContain('team-leads 1/2, security 0/1');
    expect(text).toContain('<@U0ALICE> via slack');
    expect(text).toContain('lgtm &lt;b&gt;');
    expect(buttons(card.blocks)).toHaveLength(2);
  });

  it('drops the buttons once the release moves on, and shows the stage', () => {
    const card = releaseCard(
      status({
        stage: 'deploying-production',
        environments: {
          staging: { state: 'succeeded', at: null },
          production: { state: 'deploying', at: null },
        },
      }),
      ctx,
      RUN,
    );
    expect(buttons(card.blocks)).toEqual([]);
    expect(allText(card.blocks)).toContain('⏳ Deploying to production');
    expect(card.text).toBe('hello 1.2.0 → production: Deploying to production');
  });

  it('shows the ending, with its reason, and no buttons', () => {
    for (const [state, line] of [
      ['succeeded', '✅ Released'],
      ['rejected', '🚫 Rejected'],
      ['rolled-back', '↩️ Rolled back'],
      ['expired', '⌛ Expired'],
    ] as const) {
      const card = releaseCard(
        status({ state, stage: 'done', reason: state === 'rejected' ? 'rejected by bob: no' : null }),
        ctx,
        RUN,
      );
      expect(buttons(card.blocks)).toEqual([]);
      expect(allText(card.blocks)).toContain(line);
    }
    expect(
      allText(
        releaseCard(status({ state: 'rejected', stage: 'done', reason: 'rejected by bob: no' }), ctx).blocks,
      ),
    ).toContain('🚫 Rejected: rejected by bob: no');
  });

  it('escapes user-supplied text so it cannot inject mentions or links', () => {
    const card = releaseCard(status({ commit: '<!channel>', branch: 'a&b' }), ctx);
    const text = allText(card.blocks);
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).toContain('a&amp;b');
    expect(escapeText('<@U1>&')).toBe('&lt;@U1&gt;&amp;');
  });

  it('links to the Temporal UI only when its address is known', () => {
    expect(releaseUrl({ people: {} }, 'hello', '1.0.0')).toBeUndefined();
    expect(allText(releaseCard(status(), { people: {} }).blocks)).not.toContain('Temporal UI');
  });

  it('describes every kind of stage in words, naming the environment of environment stages', () => {
    const d = (stage: Stage, blockedBy: string | null = null) =>
      describeStage({ stage, blockedBy, blockedUntil: null });
    expect(d('building')).toBe('Building');
    expect(d('awaiting-approval')).toBe('Waiting for approval');
    expect(d('wait-timer')).toBe('Approved; in the wait timer');
    expect(d('awaiting-window', 'weeknight-maintenance')).toBe('Held by weeknight-maintenance');
    expect(d('awaiting-gate', 'change-board')).toBe('Waiting for gate change-board');
    expect(d('deploying-production')).toBe('Deploying to production');
    expect(d('verifying-production')).toBe('Verifying production');
    expect(d('smoke-staging')).toBe('Smoke tests on staging');
    expect(d('done')).toBe('Done');
    // An environment named like a stage keyword stays an environment.
    expect(d('deploying-smoke-eu')).toBe('Deploying to smoke-eu');
  });

  it('counts approvals without group data as a plain tally', () => {
    const s = status();
    s.approvals.given = [{ by: 'x', at: '2026-01-05T10:00:00.000Z', via: 'cli' }];
    expect(tallyText(s)).toBe('1/2');
    expect(
      tallyText(status({ approvals: { environment: null, required: [], given: [], refused: [] } })),
    ).toBe('none required');
  });
});

describe('outcome messages', () => {
  it('on production success offers "Roll back to X" with {"app","env","to"}', () => {
    const msg = releaseOutcome(status({ state: 'succeeded', stage: 'done' }), 'production', '1.1.0', ctx);
    expect(msg.text).toBe('hello 1.2.0 is live on production');
    const [button, ...rest] = buttons(msg.blocks);
    expect(rest).toEqual([]);
    expect(button).toMatchObject({ action_id: 'shipgate.rollback', text: { text: 'Roll back to 1.1.0' } });
    expect(JSON.parse(button!.value)).toEqual({ app: 'hello', env: 'production', to: '1.1.0' });
  });

  it('on failure and rollback says so, with the reason; no button without a version to restore', () => {
    const failed = releaseOutcome(
      status({ state: 'failed', stage: 'done', reason: 'smoke /smoke answered 500' }),
      'production',
      null,
      ctx,
    );
    expect(failed.text).toBe('hello 1.2.0 failed on production');
    expect(allText(failed.blocks)).toContain('smoke /smoke answered 500');
    expect(buttons(failed.blocks)).toEqual([]);
    const rolled = releaseOutcome(
      status({ state: 'rolled-back', stage: 'done', reason: 'verification failed' }),
      'production',
      '1.0.0',
      ctx,
    );
    expect(rolled.text).toBe('hello 1.2.0 was rolled back on production');
    expect(buttons(rolled.blocks).map((b) => b.text.text)).toEqual(['Roll back to 1.0.0']);
  });

  it('reports a requested rollback with who and why', () => {
    const entry = {
      opId: 'x',
      action: 'rollback',
      version: '1.1.0',
      fromVersion: '1.2.0',
      actor: 'alice',
      reason: 'latency',
      outcome: 'succeeded',
      automatic: false,
      failure: null,
    } as unknown as LedgerEntry;
    const msg = rollbackOutcome('hello', 'production', entry, '1.0.0', ctx);
    expect(msg.text).toBe('hello/production rolled back to 1.1.0');
    expect(allText(msg.blocks)).toContain('by <@U0ALICE>');
    expect(allText(msg.blocks)).toContain('reason: latency');
    expect(JSON.parse(buttons(msg.blocks)[0]!.value)).toEqual({
      app: 'hello',
      env: 'production',
      to: '1.0.0',
    });
    const failed = rollbackOutcome(
      'hello',
      'production',
      { ...entry, outcome: 'failed', failure: 'not healthy' },
      null,
      ctx,
    );
    expect(failed.text).toBe('rollback of hello/production to 1.1.0 failed');
  });
});

describe('break-glass override', () => {
  const override = { by: 'dave', at: '2026-01-05T23:00:00.000Z', reason: 'hotfix <now>' };
  it('is announced with who, what it overrode and why', () => {
    const msg = overrideNotice(
      status({ stage: 'awaiting-window', blockedBy: 'weeknight-maintenance' }),
      'production',
      override,
      ctx,
    );
    expect(msg.text).toBe('Break-glass: dave overrode weeknight-maintenance for hello 1.2.0 on production');
    const text = allText(msg.blocks);
    expect(text).toContain('<@U0DAVE> let *hello 1.2.0* deploy despite *weeknight-maintenance*');
    expect(text).toContain('reason: hotfix &lt;now&gt;');
    expect(buttons(msg.blocks)).toEqual([]);
  });

  it('shows on the release card', () => {
    expect(allText(releaseCard(status({ stage: 'awaiting-window', override }), ctx).blocks)).toContain(
      '⚠️ Window override by <@U0DAVE>',
    );
    expect(allText(releaseCard(status(), ctx).blocks)).not.toContain('override');
  });
});

describe('rollback dialog', () => {
  it('is a modal whose private metadata is the button value and whose reason field has fixed ids', () => {
    const view = rollbackModal({ app: 'hello', env: 'production', to: '1.1.0' });
    expect(view).toMatchObject({ type: 'modal', callback_id: ROLLBACK_VIEW.callbackId });
    expect(JSON.parse(view.private_metadata as string)).toEqual({
      app: 'hello',
      env: 'production',
      to: '1.1.0',
    });
    const input = (view.blocks as SlackBlock[]).find((b) => b.type === 'input')!;
    expect(input.block_id).toBe('reason');
    expect(input.element).toMatchObject({ type: 'plain_text_input', action_id: 'reason' });
    expect((view.title as { text: string }).text.length).toBeLessThanOrEqual(24);
  });
});

describe('button values', () => {
  it('round-trip', () => {
    const release = { app: 'hello', version: '1.2.0', run: RUN };
    expect(parseReleaseValue(releaseValue(release))).toEqual({ ok: true, value: release });
    // A card posted before buttons named their run parses without one (the endpoint then refuses the click).
    expect(parseReleaseValue(JSON.stringify({ app: 'hello', version: '1.2.0' }))).toEqual({
      ok: true,
      value: { app: 'hello', version: '1.2.0' },
    });
    const ref = { app: 'hello', env: 'production', to: '1.1.0' };
    expect(parseRollbackValue(rollbackValue(ref))).toEqual({ ok: true, value: ref });
  });

  it('refuse malformed or invalid values, naming the problem', () => {
    const bad: [unknown, RegExp][] = [
      [undefined, /missing/],
      ['{', /not JSON/],
      ['[1]', /not a JSON object/],
      ['null', /not a JSON object/],
      ['{"app":"Hello","version":"1.0.0"}', /value.app/],
      ['{"app":"hello","version":"../x"}', /value.version/],
      ['{"app":"hello"}', /value.version/],
      ['{"app":"hello","version":"1.0.0","run":"a b"}', /value.run/],
      ['{"app":"hello","version":"1.0.0","run":7}', /value.run/],
    ];
    for (const [v, re] of bad) {
      const r = parseReleaseValue(v);
      expect(r.ok, String(v)).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(re);
    }
    const r = parseRollbackValue('{"app":"hello","env":"production"}');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/value.to/);
    expect(parseRollbackValue('{"app":"hello","env":"Prod!","to":"1.0.0"}').ok).toBe(false);
  });
});
