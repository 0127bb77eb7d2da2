/**
 * Tenants: with API tokens configured, every graph and object belongs to the
 * tenant of the token that made it, and is invisible to other tenants (their
 * requests get 404, as for something that does not exist). Operator tokens
 * (tenant "*") see all. Without tokens every request is tenant "".
 */
import { OPERATOR_TENANT } from '../config.ts';

/** Can `request` see what tenant `owner` made? */
export function visibleTo(request: RequestContext, owner: string | null | undefined): boolean {
  return request.tenant === OPERATOR_TENANT || request.tenant === (owner ?? '');
}

/**
 * Who a request acts for, given to everything that keeps tenants apart
 * (what a graph or an object shows, the result cache, admission). One object
 * rather than a tenant parameter, so what a request carries can grow in one place.
 */
export interface RequestContext {
  /** The tenant of the request's token: "" without tokens, "*" (OPERATOR_TENANT) for an operator. */
  readonly tenant: string;
}
