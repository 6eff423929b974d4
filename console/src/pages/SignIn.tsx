import { useState } from 'preact/hooks';
import { ListSequenceStoresCommand } from '@aws-sdk/client-omics';
import { clientsFor, describeError, saveSession, type Session } from '../session.js';

/** Sign in with an access key of this server (`openomics admin` makes them; the server's own is in its credentials file). */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice?: string }) {
  const [error, setError] = useState<string | undefined>(notice);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const s: Session = {
      accessKeyId: String(f.get('accessKeyId') ?? '').trim(),
      secretAccessKey: String(f.get('secretAccessKey') ?? '').trim(),
      region: String(f.get('region') ?? '').trim() || 'us-east-1',
    };
    setBusy(true);
    setError(undefined);
    try {
      // One signed request tells a wrong key from a right one; a key that may not list stores is still signed in.
      await clientsFor(s).omics.send(new ListSequenceStoresCommand({ maxResults: 1 }));
      saveSession(s);
      onSignedIn(s);
    } catch (err) {
      const d = describeError(err);
      if (d.signedOut) setError(d.message);
      else if ((err as Error).name === 'AccessDeniedException') {
        saveSession(s);
        onSignedIn(s);
      } else setError(d.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Sign in to OpenOmics</h1>
      <p>Use an access key of this server. The secret stays in this browser tab and signs each request; it is never sent.</p>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          Access key ID
          <input name="accessKeyId" autoComplete="username" required autoFocus />
        </label>
        <label>
          Secret access key
          <input name="secretAccessKey" type="password" autoComplete="current-password" required />
        </label>
        <label>
          Region
          <input name="region" placeholder="us-east-1" />
        </label>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
