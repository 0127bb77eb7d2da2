/**
 * Tenants: with API tokens configured, every graph and object belongs to the
 * tenant of the token that made it, and is invisible to other tenants (their
 * requests get 404, as for something that does not exist). Operator tokens
 * (tenant "*") see all. Without tokens every request is tenant "".
 */
import { OPERATOR_TENANT } from '../config.ts';

/** Can a request of tenant `viewer` see what tenant `owner` made? */
export function visibleTo(viewer: string, owner: string | null | undefined): boolean {
  return viewer === OPERATOR_TENANT || viewer === (owner ?? '');
}
