// igv.js in headless Chromium reads a BAM and a CRAM from presigned S3-view URLs (CORS), and draws their reads:
// the alignment tracks' canvases are checked for drawn pixels, against a track whose URL is refused.
// igv 3.7.3 is pinned: 3.8.x fails to instantiate its CRAM codec WebAssembly in Chromium 156 (decoding error).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  CreateSequenceStoreCommand,
  GetSequenceStoreCommand,
  CreateReferenceStoreCommand,
  GetReadSetMetadataCommand,
} from '@aws-sdk/client-omics';
import { ROOT, spawnServer, type SpawnedServer } from './helpers/server.js';
import { omicsClient, importReference, importReadSets } from './helpers/omics.js';
import { tinyCorpus } from './helpers/corpus.js';
import { launchChromium, skipChromium } from './helpers/chromium.js';


describe('igv.js in headless Chromium over presigned S3-view URLs', { skip: skipChromium() }, () => {
  let s: SpawnedServer;
  let page: Server;
  let root: string;
  let pageUrl: string;
  const urls: Record<string, string> = {};

  before(async () => {
    const corpus = tinyCorpus();
    root = mkdtempSync(join(tmpdir(), 'openomics-igv-'));
    for (const f of ['ref.fa', 'ref.fa.fai', 'sample.bam', 'sample.cram']) copyFileSync(join(corpus, f), join(root, f));
    // The page (igv.js, the reference) comes from its own origin; the reads come cross-origin from OpenOmics.
    page = createServer((req, res) => {
      const files: Record<string, [string, string | Buffer]> = {
        '/': ['text/html', '<!doctype html><html><body><div id="igv" style="width:1000px"></div></body></html>'],
        '/igv.min.js': ['application/javascript', readFileSync(join(ROOT, 'node_modules', 'igv', 'dist', 'igv.js'))],
      };
      const path = (req.url ?? '/').split('?')[0]!;
      if (files[path]) {
        res.writeHead(200, { 'content-type': files[path][0] }).end(files[path][1]);
        return;
      }
      if (path === '/ref.fa' || path === '/ref.fa.fai') {
        const body = readFileSync(join(root, path.slice(1)));
        const m = /bytes=(\d+)-(\d+)/.exec(String(req.headers.range ?? ''));
        if (m) {
          const end = Math.min(Number(m[2]), body.length - 1);
          res.writeHead(206, { 'content-range': `bytes ${m[1]}-${end}/${body.length}` }).end(body.subarray(Number(m[1]), end + 1));
        } else res.writeHead(200).end(body);
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', () => r()));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
    s = await spawnServer({ env: { OPENOMICS_IMPORT_ROOTS: root, OPENOMICS_S3_CORS_ORIGINS: pageUrl } });
    const omics = omicsClient(s);
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'igv' }))).id!;
    const alias = /^s3:\/\/([^/]+)\//.exec((await omics.send(new GetSequenceStoreCommand({ id: storeId }))).s3Access!.s3Uri!)![1]!;
    const refStoreId = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
    const referenceArn = await importReference(omics, refStoreId, `file://${root}/ref.fa`);
    const readSetIds = await importReadSets(
      omics,
      storeId,
      (['BAM', 'CRAM'] as const).map((t) => ({ sourceFileType: t, subjectId: 's', sampleId: 'm', name: t, referenceArn, sourceFiles: { source1: `file://${root}/sample.${t.toLowerCase()}` } })),
    );
    const s3 = new S3Client({ endpoint: s.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } });
    for (const [i, name] of ['bam', 'cram'].entries()) {
      const m = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetIds[i]! }));
      for (const [which, f] of [['url', m.files!.source1!], ['index', m.files!.index!]] as const) {
        const key = f.s3Access!.s3Uri!.replace(`s3://${alias}/`, '');
        urls[`${name}-${which}`] = await getSignedUrl(s3, new GetObjectCommand({ Bucket: alias, Key: key }), { expiresIn: 600 });
      }
    }
  });
  after(async () => {
    await s?.stop();
    await new Promise<void>((r) => (page ? page.close(() => r()) : r()));
    rmSync(root, { recursive: true, force: true });
  });

  it('draws reads of a BAM and a CRAM (and nothing for a URL that is refused)', async () => {
    const browser = await launchChromium();
    try {
      const tab = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(String(e)));
      tab.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
      });
      await tab.goto(pageUrl);
      await tab.addScriptTag({ url: '/igv.min.js' });
      const refused = urls['bam-url']!.replace(/X-Amz-Signature=[0-9a-f]+/, 'X-Amz-Signature=' + '0'.repeat(64));
      const counts = await tab.evaluate(
        async ({ urls, refused }) => {
          const igv = (window as unknown as { igv: any }).igv;
          const browser = await igv.createBrowser(document.getElementById('igv'), {
            loadDefaultGenomes: false,
            reference: { id: 'tiny', fastaURL: '/ref.fa', indexURL: '/ref.fa.fai' },
            locus: 'chr1:2000-2600',
            tracks: [],
          });
          const tracks = [
            { name: 'bam', type: 'alignment', format: 'bam', url: urls['bam-url'], indexURL: urls['bam-index'] },
            { name: 'cram', type: 'alignment', format: 'cram', url: urls['cram-url'], indexURL: urls['cram-index'] },
            { name: 'refused', type: 'alignment', format: 'bam', url: refused, indexURL: urls['bam-index'] },
          ];
          const out: Record<string, number> = {};
          for (const t of tracks) {
            try {
              await browser.loadTrack(t);
            } catch {
              out[t.name] = -1;
            }
          }
          await new Promise((r) => setTimeout(r, 4000));
          for (const tv of browser.trackViews) {
            const name = tv.track.name;
            if (!['bam', 'cram', 'refused'].includes(name) || out[name] === -1) continue;
            let drawn = 0;
            for (const vp of tv.viewports) {
              const c = vp.canvas as HTMLCanvasElement;
              if (!c) continue;
              const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
              for (let i = 0; i < d.length; i += 4) if (d[i + 3]! > 0 && (d[i]! < 240 || d[i + 1]! < 240 || d[i + 2]! < 240)) drawn++;
            }
            out[name] = drawn;
          }
          return out;
        },
        { urls, refused },
      );
      assert.ok((counts['bam'] ?? 0) > 5000, `BAM reads drawn: ${JSON.stringify(counts)} ${errors.join(' ')}`);
      assert.ok((counts['cram'] ?? 0) > 5000, `CRAM reads drawn: ${JSON.stringify(counts)} ${errors.join(' ')}`);
      assert.ok((counts['refused'] ?? -1) < 500, `nothing drawn from a refused URL: ${JSON.stringify(counts)}`);
      await tab.screenshot({ path: join(root, 'igv.png') });
    } finally {
      await browser.close();
    }
  });
});

describe('guard: the igv.js test runs in CI', () => {
  it('has chromium in CI (.ci/run installs it)', () => {
    if (process.env['CI']) assert.equal(skipChromium(), false, `the igv.js test would be skipped in CI: ${String(skipChromium())}`);
  });
});
