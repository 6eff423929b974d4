// igv.js's ESM build, imported by path (its package maps browsers to the UMD build); the viewer types what it uses.
declare module 'igv/dist/igv.esm.js';
