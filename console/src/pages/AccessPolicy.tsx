import { useEffect, useState } from 'preact/hooks';
import { GetS3AccessPolicyCommand, PutS3AccessPolicyCommand } from '@aws-sdk/client-omics';
import { describeError, type Clients } from '../session.js';
import { ErrorNote } from '../ui.js';

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal: { AWS: string } | '*';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
}

type Template = 'all' | 'readSets' | 'sample';

/**
 * Statements granting `principal` (an account ID or a principal ARN) read access through the S3 view: to the whole
 * store, to the named read sets, or to the read sets of one sample (by the `omics:sampleId` object tag); with the
 * listing of the store's prefix, so S3 tools can find the files.
 */
export function grantStatements(t: Template, principal: string, accessPointArn: string, accountId: string, storeId: string, detail: string): Statement[] {
  const prefix = `${accountId}/sequenceStore/${storeId}/`;
  const tag = Date.now().toString(36);
  const objects =
    t === 'readSets'
      ? detail
          .split(/[\s,]+/)
          .filter(Boolean)
          .map((id) => `${accessPointArn}/object/${prefix}readSet/${id}/*`)
      : `${accessPointArn}/object/${prefix}*`;
  if (t === 'readSets' && objects.length === 0) throw new Error('Name at least one read set ID.');
  if (t === 'sample' && !detail.trim()) throw new Error('Name the sample ID.');
  return [
    {
      Sid: `Read${t === 'all' ? 'Store' : t === 'readSets' ? 'ReadSets' : 'Sample'}${tag}`,
      Effect: 'Allow',
      Principal: { AWS: principal },
      Action: ['s3:GetObject', 's3:GetObjectTagging'],
      Resource: objects,
      ...(t === 'sample' ? { Condition: { StringEquals: { 's3:ExistingObjectTag/omics:sampleId': detail.trim() } } } : {}),
    },
    { Sid: `List${tag}`, Effect: 'Allow', Principal: { AWS: principal }, Action: 's3:ListBucket', Resource: accessPointArn, Condition: { StringLike: { 's3:prefix': `${prefix}*` } } },
  ];
}

/**
 * The store's S3 access policy: the document as JSON, checked by the server against the restricted grammar when
 * saved (its message names what it does not support), and templates that add statements for a partner.
 */
export function AccessPolicy({ clients, accessPointArn, accountId, storeId }: { clients: Clients; accessPointArn: string; accountId: string; storeId: string }) {
  const [text, setText] = useState('');
  const [loadError, setLoadError] = useState<string>();
  const [saveError, setSaveError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    clients.omics.send(new GetS3AccessPolicyCommand({ s3AccessPointArn: accessPointArn })).then(
      (p) => setText(JSON.stringify(JSON.parse(p.s3AccessPolicy ?? '{}'), null, 2)),
      (e: unknown) => {
        if ((e as Error).name === 'ResourceNotFoundException') {
          setText(JSON.stringify({ Version: '2012-10-17', Statement: [] }, null, 2));
          setLoadError('This store has no S3 access policy: nobody, not even its owner, can read it through S3 until one is saved.');
        } else setLoadError(describeError(e).message);
      },
    );
  }, [clients, accessPointArn]);
  const addTemplate = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setSaveError(undefined);
    setSaved(false);
    try {
      const principal = String(f.get('principal') ?? '').trim();
      if (!/^(\d{12}|arn:[\w-]+:iam::\d{12}:(root|user\/.+|role\/.+))$/.test(principal)) throw new Error('The principal is a 12-digit account ID or an IAM principal ARN (arn:aws:iam::123456789012:root, …:user/name, …:role/name).');
      const doc = JSON.parse(text || '{"Version":"2012-10-17","Statement":[]}') as { Version?: string; Statement?: Statement[] | Statement };
      const current = doc.Statement === undefined ? [] : Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
      const added = grantStatements(String(f.get('template')) as Template, principal, accessPointArn, accountId, storeId, String(f.get('detail') ?? ''));
      setText(JSON.stringify({ Version: doc.Version ?? '2012-10-17', Statement: [...current, ...added] }, null, 2));
    } catch (err) {
      setSaveError(err instanceof SyntaxError ? `The policy is not valid JSON: ${err.message}` : (err as Error).message);
    }
  };
  const save = async () => {
    setBusy(true);
    setSaveError(undefined);
    setSaved(false);
    try {
      JSON.parse(text);
      await clients.omics.send(new PutS3AccessPolicyCommand({ s3AccessPointArn: accessPointArn, s3AccessPolicy: text }));
      setSaved(true);
      setLoadError(undefined);
    } catch (err) {
      setSaveError(err instanceof SyntaxError ? `The policy is not valid JSON: ${err.message}` : describeError(err).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="policy-heading">
      <h2 id="policy-heading">S3 access policy</h2>
      <p>Who may read this store's files through S3 (the AWS CLI, samtools, IGV, …). The server checks the policy when you save it.</p>
      <ErrorNote text={loadError} />
      <form class="inline" onSubmit={addTemplate} aria-label="Add a grant">
        <label>
          Grant read access to (account ID or principal ARN)
          <input name="principal" placeholder="210987654321" size={40} />
        </label>
        <label>
          For
          <select name="template" aria-label="Grant for">
            <option value="all">the whole store</option>
            <option value="readSets">only these read sets</option>
            <option value="sample">only one sample's read sets</option>
          </select>
        </label>
        <label>
          Read set IDs or sample ID
          <input name="detail" placeholder="1234567890, 2345678901 — or a sample ID" />
        </label>
        <button type="submit">Add to the policy</button>
      </form>
      <label>
        Policy document (JSON)
        <textarea
          name="policy"
          rows={16}
          spellcheck={false}
          value={text}
          onInput={(e) => {
            setText((e.currentTarget as HTMLTextAreaElement).value);
            setSaved(false);
          }}
        />
      </label>
      <p>
        <button type="button" disabled={busy} onClick={() => void save()}>
          {busy ? 'Saving…' : 'Save policy'}
        </button>
        {saved ? (
          <span role="status" class="ok">
            {' '}
            Saved.
          </span>
        ) : null}
      </p>
      <ErrorNote text={saveError} />
    </section>
  );
}
