import { ValidationError } from './errors.js';

/**
 * Opaque pagination tokens: the sort key of the last item returned, as
 * base64url JSON with a version tag so the format can change later.
 */
export interface PageCursor {
  t: number; // sort time (ms)
  id: string;
}

export function encodeNextToken(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify({ v: 1, ...cursor })).toString('base64url');
}

export function decodeNextToken(token: string | undefined): PageCursor | undefined {
  if (token === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (parsed['v'] === 1 && typeof parsed['t'] === 'number' && typeof parsed['id'] === 'string') {
      return { t: parsed['t'], id: parsed['id'] };
    }
  } catch {
    // fall through
  }
  throw new ValidationError('The nextToken is not valid. Use the nextToken from a previous response.');
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

export const DEFAULT_PAGE_SIZE = 100;

/** Every item of a paged listing, page after page. */
export async function* everyItem<T>(list: (nextToken: string | undefined) => Promise<Page<T>>): AsyncGenerator<T> {
  let token: string | undefined;
  do {
    const page = await list(token);
    yield* page.items;
    token = page.nextToken;
  } while (token);
}
