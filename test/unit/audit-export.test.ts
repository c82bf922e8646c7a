import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { EMPTY_CHAIN, extend } from '../../src/audit/chain.js';
import type { AuditInput } from '../../src/audit/types.js';
import { csvCell, exportable, toCsv, toJsonl } from '../../src/client/audit-export.js';
import { readHistory, type TemporalEvidence } from '../../src/client/audit-anchors.js';

const input = (i: number, over: Partial<AuditInput> = {}): AuditInput => ({
  id: `wf@run#${i}`,
  at: `2025-01-0${i}T00:00:00.000Z`,
  type: 'rollback-succeeded',
  app: 'hello',
  env: 'production',
  version: '1.0.0',
  actor: 'alice',
  ...over,
});

describe('audit export', () => {
  it('CSV cells: quoted when they hold a comma, a quote or a line break; formulas defused', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell(null)).toBe('');
    expect(csvCell(undefined)).toBe('');
    expect(csvCell(12)).toBe('12');
    expect(csvCell('a, b')).toBe('"a, b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    for (const lead of ['=', '+', '-', '@'])
      expect(csvCell(`${lead}cmd|' /C calc'!A0`)).toBe(`'${lead}cmd|' /C calc'!A0`);
    expect(csvCell('\tcmd')).toBe("'\\x09cmd");
    expect(csvCell('\rcmd')).toBe(`"'\rcmd"`);
    expect(csvCell('=SUM(A1:A9)')).toBe("'=SUM(A1:A9)");
    expect(csvCell('-1')).toBe("'-1");
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    // Version numbers and times are not formulas.
    expect(csvCell('1.0.0-rc1')).toBe('1.0.0-rc1');
    // Nothing reaches a terminal raw: escape sequences and bidirectional overrides show as escapes.
    expect(csvCell('red \u001b[31m text \u202e')).toBe('red \\x1b[31m text \\u{202e}');
  });

  it('CSV: a header, one row per record, CRLF line ends', () => {
    const rs = extend(EMPTY_CHAIN, [
      input(1, {
        approvers: ['bob', 'carol'],
        reason: 'slow, very',
        proof: { login: 'alice', via: 'ssh', digest: 'd1', at: 'x' },
      }),
      input(2, { type: 'drift', findings: [{ kind: 'image', expected: 'a', actual: 'b' } as never] }),
    ]).records;
    const csv = toCsv(rs);
    const rows = csv.split('\r\n');
    expect(rows[0]).toBe(
      'seq,at,type,app,env,version,actor,via,reason,outcome,approvers,fromVersion,releaseId,proofVia,proofDigest,findings,id,prevHash,hash',
    );
    expect(rows[1]).toBe(
      `1,2025-01-01T00:00:00.000Z,rollback-succeeded,hello,production,1.0.0,alice,,"slow, very",,bob carol,,,ssh,d1,,wf@run#1,${rs[0]!.prevHash},${rs[0]!.hash}`,
    );
    expect(rows[2]).toContain(',"[{""kind"":""image"",""expected"":""a"",""actual"":""b""}]",');
    expect(rows[3]).toBe('');
    expect(rows).toHaveLength(4);
  });

  it('JSON lines: each record as chained, --since by time, unreadable entries set aside', () => {
    const rs = extend(EMPTY_CHAIN, [input(1), input(2, { reason: 'line\u2028sep' }), input(3)]).records;
    const entries = [
      ...rs.map((record, i) => ({ where: `f:${i + 1}`, record })),
      { where: 'f:4', record: null },
    ];
    const all = exportable(entries);
    expect(all.unreadable).toEqual(['f:4']);
    const out = toJsonl(all.records);
    expect(out.split('\n').map((l) => (l ? JSON.parse(l) : l))).toEqual([...rs, '']);
    expect(out).toContain('line\\u2028sep');
    expect(exportable(entries, Date.parse('2025-01-02T00:00:00Z')).records.map((r) => r.seq)).toEqual([2, 3]);
  });
});

describe('audit anchors from a workflow history', () => {
  const payload = (v: unknown) => defaultPayloadConverter.toPayload(v);
  const empty = (): TemporalEvidence => ({
    anchors: [],
    sent: [],
    ledgers: [],
    environments: 0,
    histories: 0,
    undelivered: [],
    notes: [],
  });

  it('each completed recordAudit gives the records it sent and the head the store answered; other activities and failed attempts give nothing', () => {
    const head = { seq: 7, hash: 'a'.repeat(64) };
    const records = [input(1), input(2)];
    const events = [
      {
        eventId: 5,
        activityTaskScheduledEventAttributes: {
          activityType: { name: 'recordAudit' },
          input: { payloads: [payload(records)] },
        },
      },
      {
        eventId: 6,
        activityTaskScheduledEventAttributes: {
          activityType: { name: 'notify' },
          input: { payloads: [payload([input(9)])] },
        },
      },
      {
        eventId: 7,
        activityTaskCompletedEventAttributes: {
          scheduledEventId: 6,
          result: { payloads: [payload({ head: { seq: 9, hash: 'c'.repeat(64) } })] },
        },
      },
      {
        eventId: 8,
        activityTaskCompletedEventAttributes: {
          scheduledEventId: 5,
          result: { payloads: [payload({ written: 2, head })] },
        },
      },
      {
        eventId: 9,
        activityTaskScheduledEventAttributes: {
          activityType: { name: 'recordAudit' },
          input: { payloads: [payload([input(3)])] },
        },
      },
      // An older store answered a bare count: the records count, there is no head.
      {
        eventId: 10,
        activityTaskCompletedEventAttributes: { scheduledEventId: 9, result: { payloads: [payload(1)] } },
      },
      {
        eventId: 11,
        activityTaskScheduledEventAttributes: {
          activityType: { name: 'recordAudit' },
          input: { payloads: [payload([input(4)])] },
        },
      },
      { eventId: 12, activityTaskFailedEventAttributes: { scheduledEventId: 11 } },
      {
        eventId: 13,
        workflowExecutionCompletedEventAttributes: {
          result: {
            payloads: [
              payload({ state: 'succeeded', auditAnchor: { seq: 8, hash: 'b'.repeat(64), at: 'x' } }),
            ],
          },
        },
      },
    ];
    const found = empty();
    readHistory('release/hello/1.0.0', events as never, found);
    expect(found.anchors).toEqual([
      { source: 'release/hello/1.0.0 (history, event 8)', ...head },
      { source: 'release/hello/1.0.0 (its result)', seq: 8, hash: 'b'.repeat(64) },
    ]);
    expect(found.sent.map((s) => [s.source, s.record.id])).toEqual([
      ['release/hello/1.0.0 (history, event 8)', 'wf@run#1'],
      ['release/hello/1.0.0 (history, event 8)', 'wf@run#2'],
      ['release/hello/1.0.0 (history, event 10)', 'wf@run#3'],
    ]);
  });

  it('an environment carries its anchor across continue-as-new', () => {
    const found = empty();
    const carried = {
      app: 'hello',
      env: 'production',
      carried: { audit: { anchor: { seq: 3, hash: 'd'.repeat(64), at: 'x' } } },
    };
    readHistory(
      'env/hello/production',
      [
        {
          eventId: 40,
          workflowExecutionContinuedAsNewEventAttributes: { input: { payloads: [payload(carried)] } },
        },
      ] as never,
      found,
    );
    expect(found.anchors).toEqual([
      { source: 'env/hello/production (carried to its next run)', seq: 3, hash: 'd'.repeat(64) },
    ]);
  });
});
