import { createHash, createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Partition } from '../core/arn.js';
import type { EventRow } from '../db/event-records.js';
import type { MetadataStore } from '../db/metadata-store.js';
import { envelopeOf, type EventEnvelope } from './envelopes.js';

/** A configured receiver of events (config `events.webhooks`). */
export interface Webhook {
  url: string;
  /** Signs each delivery (`X-OpenOmics-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`). */
  secret?: string;
  /** Only events of these accounts (default: every account). */
  accounts?: string[];
}

export interface EventDeliveryOptions {
  webhooks: Webhook[];
  /** Deliveries of one event tried before it goes to the dead-letter table and the next is sent. */
  maxAttempts: number;
  /** Events kept after every webhook has had them (and at all, with no webhook). */
  retentionMs: number;
  pollMs?: number;
  now?: () => number;
}

/** How long a hole in the sequence (a transaction that took a number and has not committed) is waited for. */
const GAP_WAIT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** A webhook's key in the delivery tables: never the URL itself (it may carry a token). */
export function webhookKey(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 32);
}

/**
 * Delivers the event outbox to webhooks, at least once and in order per webhook (decision 75): each webhook has a
 * cursor (the last event it acknowledged with a 2xx); the next event is posted until it is acknowledged, with
 * backoff (0.5 s doubling, at most a minute) — so a receiver that was down gets everything it missed, in order,
 * once it is back — or, after `maxAttempts`, written to the dead-letter table (and the log) and passed. A
 * webhook's first use starts at the newest event. One process of a deployment delivers (the one running jobs);
 * a second one would repeat deliveries, never reorder or lose them (the cursor moves by compare-and-set).
 */
export class EventDelivery {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly gaps = new Map<string, { seq: number; since: number }>();
  private lastPrune = 0;
  private readonly now: () => number;

  constructor(
    private readonly db: MetadataStore,
    private readonly partition: Partition,
    private readonly o: EventDeliveryOptions,
    private readonly log: Logger,
  ) {
    this.now = o.now ?? Date.now;
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.tick()
        .catch((err: unknown) => this.log.error({ err }, 'event delivery failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.o.pollMs ?? 250);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async tick(): Promise<void> {
    for (const w of this.o.webhooks) await this.deliver(w);
    if (this.now() - this.lastPrune > 60_000) {
      this.lastPrune = this.now();
      const delivered = await Promise.all(this.o.webhooks.map(async (w) => (await this.db.events.cursor(webhookKey(w.url)))?.deliveredSeq ?? 0));
      const upTo = delivered.length ? Math.min(...delivered) : Number.MAX_SAFE_INTEGER;
      await this.db.events.prune(upTo, this.now() - this.o.retentionMs);
    }
  }

  /** Sends a webhook what it has not had yet, in order, until one fails or nothing is left. */
  private async deliver(w: Webhook): Promise<void> {
    const key = webhookKey(w.url);
    let cursor = await this.db.events.cursor(key);
    if (!cursor) {
      await this.db.events.startCursor(key, await this.db.events.last());
      cursor = (await this.db.events.cursor(key))!;
    }
    if (cursor.nextAttemptAt > this.now()) return;
    let at = cursor.deliveredSeq;
    let attempts = cursor.attempts;
    for (const e of await this.db.events.after(at, w.accounts, 100)) {
      if (this.stopped) return;
      if (!this.holeFilled(key, at, e)) return;
      const envelope = await envelopeOf(e, this.db, this.partition);
      const error = await this.post(w, envelope);
      if (error) {
        attempts++;
        if (attempts < this.o.maxAttempts) {
          await this.db.events.failed(key, attempts, this.now() + Math.min(60_000, 500 * 2 ** (attempts - 1)), error);
          return;
        }
        await this.db.events.deadLetter(key, e.seq, JSON.stringify(envelope), error, this.now());
        this.log.warn({ webhook: key, seq: e.seq, detailType: envelope['detail-type'], attempts, error }, 'event dead-lettered: the webhook did not take it');
      }
      if (!(await this.db.events.advance(key, at, e.seq))) return; // another process delivers this webhook too
      at = e.seq;
      attempts = 0;
    }
  }

  /**
   * Whether the event after `at` may go: numbers are taken in transactions that may commit out of order
   * (PostgreSQL), so a hole before `e` is waited for a few seconds in case its event is still coming.
   */
  private holeFilled(key: string, at: number, e: EventRow): boolean {
    if (e.seq === at + 1) {
      this.gaps.delete(key);
      return true;
    }
    const gap = this.gaps.get(key);
    if (!gap || gap.seq !== e.seq) {
      this.gaps.set(key, { seq: e.seq, since: this.now() });
      return false;
    }
    return this.now() - gap.since >= GAP_WAIT_MS;
  }

  /** Posts one event; the error if it was not acknowledged with a 2xx. */
  private async post(w: Webhook, envelope: EventEnvelope): Promise<string | undefined> {
    const body = JSON.stringify(envelope);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-openomics-event-id': envelope.id, 'x-openomics-detail-type': envelope['detail-type'] };
    if (w.secret) {
      const t = Math.floor(this.now() / 1000);
      headers['x-openomics-signature'] = `t=${t},v1=${createHmac('sha256', w.secret).update(`${t}.${body}`).digest('hex')}`;
    }
    try {
      const res = await fetch(w.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? undefined : `HTTP ${res.status}`;
    } catch (e) {
      return (e as Error).cause ? `${(e as Error).message}: ${String(((e as Error).cause as Error).message ?? (e as Error).cause)}` : (e as Error).message;
    }
  }
}
