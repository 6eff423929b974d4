// The layer rules of ARCHITECTURE.md, checked in CI (`npm run lint`): dependencies point down only.
//   cli → server → services/app → api → the services (storage/; workflows/ and analytics/ to come) → jobs, iam →
//   db, blob, keys → formats → core
// One exception: db/ may import a service's entities.ts (types only) — the domain owns the records it persists.
// An upward import fails the check with the rule's name.
const layer = (name) => `^src/${name}/`;
const below = (from, forbidden, comment) => ({
  name: `${from.replace(/\W+/g, '-')}-not-${forbidden.join('-')}`,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: `^src/(${forbidden.join('|')})(/|\\.ts$)` },
});

module.exports = {
  forbidden: [
    below(layer('core'), ['formats', 'db', 'blob', 'keys', 'iam', 'jobs', 'storage', 'workflows', 'analytics', 'shares', 'events', 'api', 'server', 'cli', 'config', 'services', 'app', 'deployment-check'], 'core knows nothing above it'),
    below(layer('formats'), ['db', 'blob', 'keys', 'iam', 'jobs', 'storage', 'workflows', 'analytics', 'shares', 'events', 'api', 'server', 'cli', 'config', 'services', 'app'], 'formats know no storage and no HTTP'),
    {
      ...below('^src/(db|blob|keys)/', ['iam', 'jobs', 'storage', 'workflows', 'analytics', 'shares', 'events', 'api', 'server', 'cli', 'config', 'services', 'app'], 'backends know nothing of the domain or HTTP'),
      // ...except the entity types a service owns and the metadata store persists (a port's types, no code).
      to: { path: '^src/(iam|jobs|storage|workflows|analytics|shares|events|api|server|cli|config|services|app)(/|\\.ts$)', pathNot: '^src/(storage|workflows|analytics|shares)/entities\\.ts$' },
    },
    below(layer('iam'), ['jobs', 'storage', 'workflows', 'analytics', 'shares', 'events', 'api', 'server', 'cli', 'services', 'app'], 'iam knows no HTTP and no domain'),
    below(layer('jobs'), ['storage', 'workflows', 'analytics', 'shares', 'events', 'api', 'server', 'cli', 'services', 'app', 'iam'], 'the job runner knows no domain and no HTTP'),
    below('^src/(storage|workflows|analytics|shares|events)/', ['api', 'server', 'cli', 'services', 'app', 'config'], 'the services know no HTTP and no configuration loading'),
    below(layer('config'), ['storage', 'workflows', 'analytics', 'shares', 'events', 'api', 'server', 'cli', 'services', 'app', 'db', 'blob', 'keys', 'iam', 'jobs', 'formats'], 'configuration is plain data'),
    below(layer('api'), ['server', 'cli', 'services', 'app'], 'the protocol edges are composed by the server, never the other way'),
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'cycles hide layering mistakes',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|test|bench|scripts)/' },
  },
};
