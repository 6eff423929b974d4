import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { clearSession, clientsFor, loadSession, SIGNED_OUT_EVENT, type Session } from './session.js';
import { SignIn } from './pages/SignIn.js';
import { Stores } from './pages/Stores.js';
import { ReadSets } from './pages/ReadSets.js';
import { ReadSet } from './pages/ReadSet.js';
import { Viewer } from './pages/Viewer.js';
import { Jobs } from './pages/Jobs.js';
import { Upload, pauseTabUploads } from './pages/Upload.js';
import { Shared } from './pages/Shared.js';
import { ReferenceStore, ReferenceStores } from './pages/References.js';
import { Workflow, Workflows } from './pages/Workflows.js';
import { Run, Runs } from './pages/Runs.js';
import { Analytics } from './pages/Analytics.js';
import { Connections } from './pages/Connections.js';

/** The page a location hash names: `#/`, `#/shared`, `#/references[/<id>]`, `#/workflows[/<id>]`, `#/runs[/<id>]`, `#/analytics`, `#/connections`, `#/stores/<id>[/jobs|/upload]`, `#/stores/<id>/readsets/<id>[/view]`. */
function route(hash: string): string[] {
  return hash.replace(/^#\/?/, '').split('?')[0]!.split('/').filter(Boolean);
}

function App() {
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [hash, setHash] = useState(window.location.hash);
  const [notice, setNotice] = useState<string>();
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const clients = useMemo(() => (session ? clientsFor(session) : undefined), [session]);
  const signOut = (why?: string) => {
    pauseTabUploads();
    clearSession();
    setNotice(why);
    setSession(undefined);
  };
  // A page whose request finds the key wrong or expired (rotated, deleted, a session token run out) signs out.
  useEffect(() => {
    const on = (e: Event) => signOut((e as CustomEvent<string>).detail);
    window.addEventListener(SIGNED_OUT_EVENT, on);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, on);
  }, []);
  if (!session || !clients) return <SignIn onSignedIn={setSession} notice={notice} />;
  const r = route(hash);
  let page;
  if (r[0] === 'stores' && r[1] && r[2] === 'readsets' && r[3] && r[4] === 'view') page = <Viewer clients={clients} storeId={r[1]} id={r[3]} />;
  else if (r[0] === 'stores' && r[1] && r[2] === 'readsets' && r[3]) page = <ReadSet clients={clients} storeId={r[1]} id={r[3]} />;
  else if (r[0] === 'stores' && r[1] && r[2] === 'jobs') page = <Jobs clients={clients} storeId={r[1]} />;
  else if (r[0] === 'stores' && r[1] && r[2] === 'upload') page = <Upload clients={clients} accessKeyId={session.accessKeyId} storeId={r[1]} />;
  else if (r[0] === 'shared') page = <Shared clients={clients} />;
  else if (r[0] === 'references' && r[1]) page = <ReferenceStore clients={clients} storeId={r[1]} />;
  else if (r[0] === 'references') page = <ReferenceStores clients={clients} />;
  else if (r[0] === 'workflows' && r[1]) page = <Workflow clients={clients} id={r[1]} />;
  else if (r[0] === 'workflows') page = <Workflows clients={clients} />;
  else if (r[0] === 'runs' && r[1]) page = <Run clients={clients} id={r[1]} />;
  else if (r[0] === 'runs') page = <Runs clients={clients} />;
  else if (r[0] === 'analytics') page = <Analytics clients={clients} />;
  else if (r[0] === 'connections') page = <Connections clients={clients} />;
  else if (r[0] === 'stores' && r[1]) page = <ReadSets clients={clients} storeId={r[1]} />;
  else page = <Stores clients={clients} />;
  return (
    <>
      <header>
        <a class="brand" href="#/">
          OpenOmics
        </a>
        <nav aria-label="Main">
          <a href="#/">Sequence stores</a>
          <a href="#/references">References</a>
          <a href="#/workflows">Workflows</a>
          <a href="#/runs">Runs</a>
          <a href="#/analytics">Analytics</a>
          <a href="#/connections">Connections</a>
          <a href="#/shared">Shared with me</a>
        </nav>
        <span class="who" title="Signed in with this access key">
          {session.accessKeyId}
        </span>
        <button type="button" class="small" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      {page}
    </>
  );
}

render(<App />, document.getElementById('app')!);
