import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError, SIGNED_OUT_EVENT } from './session.js';

/** A value loaded from the API: what the page shows while it loads, and the error in words if it fails. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { value?: T; error?: string; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ value?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (value) => live && setState({ value, loading: false }),
      (e: unknown) => {
        const d = describeError(e);
        if (d.signedOut) window.dispatchEvent(new CustomEvent(SIGNED_OUT_EVENT, { detail: d.message }));
        if (live) setState({ error: d.message, loading: false });
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/**
 * A value loaded from the API and loaded again every `everyMs` while `again(value)` says it is still changing (a job
 * running, a workflow being checked), and after a failure (a server away for a moment) every 5 s.
 */
export function usePolling<T>(
  load: () => Promise<T>,
  again: (value: T) => boolean,
  deps: unknown[],
  everyMs = 2000,
): { value?: T; error?: string; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ value?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = () => {
      load().then(
        (value) => {
          if (!live) return;
          setState({ value, loading: false });
          if (again(value)) timer = setTimeout(poll, everyMs);
        },
        (e: unknown) => {
          if (!live) return;
          const d = describeError(e);
          if (d.signedOut) window.dispatchEvent(new CustomEvent(SIGNED_OUT_EVENT, { detail: d.message }));
          else timer = setTimeout(poll, 5000);
          setState((s) => ({ ...s, error: d.message, loading: false }));
        },
      );
    };
    poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export function ErrorNote({ text }: { text?: string }) {
  return text ? (
    <p class="error" role="alert">
      {text}
    </p>
  ) : null;
}

/** A value with a button that copies it. */
export function Copyable({ value, label }: { value: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <span class="copyable">
      <code>{value}</code>
      <button
        type="button"
        class="small"
        aria-label={`Copy ${label}`}
        onClick={() => {
          void navigator.clipboard?.writeText(value).then(() => setCopied(true), () => setCopied(false));
        }}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </span>
  );
}

export function Page({ title, children }: { title: string; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · OpenOmics`;
  }, [title]);
  return (
    <main>
      <h1>{title}</h1>
      {children}
    </main>
  );
}

export const bytes = (n: number | undefined) => {
  if (n === undefined) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
};

export const when = (d: Date | undefined) => (d ? d.toISOString().replace('T', ' ').slice(0, 19) : '');

/**
 * A button that asks first: a modal dialog (the browser's own <dialog>: focus kept inside, Escape cancels) saying
 * what will happen; `onConfirm` runs only on the dialog's confirm button.
 */
export function ConfirmButton({ label, question, confirm, onConfirm, disabled }: { label: string; question: string; confirm: string; onConfirm: () => void; disabled?: boolean }) {
  const dialog = useRef<HTMLDialogElement>(null);
  return (
    <>
      <button type="button" class="danger" disabled={disabled} onClick={() => dialog.current?.showModal()}>
        {label}
      </button>
      <dialog ref={dialog} aria-label={label}>
        <p>{question}</p>
        <div class="dialog-buttons">
          <button type="button" class="small" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button
            type="button"
            class="danger"
            onClick={() => {
              dialog.current?.close();
              onConfirm();
            }}
          >
            {confirm}
          </button>
        </div>
      </dialog>
    </>
  );
}

/** Height of one row of a `VirtualRows` table (CSS `.virtual td` fixes it to this). */
const ROW_PX = 32;

/**
 * A table body of many rows that puts only those in view (and a screenful either side) in the page: what scrolls is
 * a box `maxHeight` tall, and spacer rows stand for the rest. Rows have one fixed height (cells do not wrap).
 */
export function VirtualRows<T>({ rows, columns, render, label, maxHeight = 480 }: { rows: T[]; columns: string[]; render: (row: T) => ComponentChildren; label: string; maxHeight?: number }) {
  const [top, setTop] = useState(0);
  const first = Math.max(0, Math.floor(top / ROW_PX) - 15);
  const last = Math.min(rows.length, Math.ceil((top + maxHeight) / ROW_PX) + 15);
  return (
    <div class="scroll virtual" style={{ maxHeight: `${maxHeight}px` }} onScroll={(e) => setTop((e.currentTarget as HTMLDivElement).scrollTop)} tabIndex={0} aria-label={`${label}: scrolls`}>
      <table aria-label={label} aria-rowcount={rows.length + 1}>
        <HeaderRow columns={columns} />
        <tbody>
          {first > 0 ? <tr aria-hidden="true" style={{ height: `${first * ROW_PX}px` }} /> : null}
          {rows.slice(first, last).map((r, i) => (
            <tr key={first + i} aria-rowindex={first + i + 2}>
              {render(r)}
            </tr>
          ))}
          {last < rows.length ? <tr aria-hidden="true" style={{ height: `${(rows.length - last) * ROW_PX}px` }} /> : null}
        </tbody>
      </table>
    </div>
  );
}

/** A table with a header row of `columns`; its rows (`<tr>`s) are the children. `live` announces changes (a job list). */
export function Table({ columns, label, live, children }: { columns: string[]; label?: string; live?: boolean; children: ComponentChildren }) {
  return (
    <table {...(label ? { 'aria-label': label } : {})} {...(live ? { 'aria-live': 'polite' as const } : {})}>
      <HeaderRow columns={columns} />
      <tbody>{children}</tbody>
    </table>
  );
}

function HeaderRow({ columns }: { columns: string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th scope="col">{c}</th>
        ))}
      </tr>
    </thead>
  );
}

/** The service role a job or run acts as (the forms that start one). */
export function RoleArnField({ role }: { role: string }) {
  return (
    <label>
      Service role ARN
      <input name="roleArn" required placeholder={`arn:aws:iam::123456789012:role/${role}`} />
    </label>
  );
}

/** Every item of a paged list call, page after page, up to `limit` items. */
export async function allPages<T>(fetchPage: (token?: string) => Promise<{ items?: T[]; nextToken?: string }>, limit = 10_000): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const p = await fetchPage(token);
    out.push(...(p.items ?? []));
    token = p.nextToken;
  } while (token && out.length < limit);
  return out;
}
