import { DEFAULT_PAGE_SIZE } from '../../core/pagination.js';

/** Domain values as the wire shapes want them: the handlers of operations.ts and data-operations.ts share these. */
export const date = (ms: number): Date => new Date(ms);
export const maybeDate = (ms: number | null): Date | undefined => (ms === null ? undefined : new Date(ms));
/** A domain null is a member left out on the wire. */
export const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);
/** A List operation's page request, with the default page size (workflow lists name their token `startingToken`). */
export const page = (input: { maxResults?: number; nextToken?: string; startingToken?: string }) => {
  const token = input.nextToken ?? input.startingToken;
  return { maxResults: input.maxResults ?? DEFAULT_PAGE_SIZE, ...(token ? { nextToken: token } : {}) };
};
