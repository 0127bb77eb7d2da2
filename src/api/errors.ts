/**
 * The error catalogue: every error the API answers with has a stable code, an
 * HTTP status and a description here. `toApiError` is the one place internal
 * failures are mapped to it. A test keeps this list, openapi.yaml's ErrorCode
 * and docs/errors.md in step.
 */
import { GraphError } from '../graph/errors.ts';
import { ObjectLostError } from '../store/objects.ts';
import { ForbiddenTargetError } from '../net/targets.ts';
import { SubmissionError } from '../queue/submit.ts';
import { ValueTooLargeError } from '../store/values.ts';

export const errorCatalogue = {
  invalid_request: {
    status: 400,
    description:
      'The request does not match the API schema (a field has the wrong type, a required field is missing, an unknown field was given), an id in the path is longer than any id or not valid percent-encoding, or the body is not as long as its Content-Length.',
  },
  invalid_json: {
    status: 400,
    description: 'The body is not valid JSON, is not UTF-8, or is empty where the route needs a body.',
  },
  inexact_number: {
    status: 400,
    description:
      'A JSON integer in the body lies outside ±(2^53 - 1), which a JSON number cannot carry exactly (its path and literal are given): send it as a string, or the body as application/msgpack.',
  },
  invalid_msgpack: {
    status: 400,
    description: 'The body is not valid MessagePack (content-type application/msgpack).',
  },
  code_forbidden: {
    status: 403,
    description:
      'The graph calls foreign callables ($call: code the workers run), which this tenant may not submit (WEFT_CODE_TENANTS).',
  },
  unsupported_media_type: {
    status: 415,
    description:
      'The Content-Type is not one the route accepts (use application/json); an empty body is accepted with any type where the route takes none.',
  },
  body_too_large: { status: 413, description: 'The body is larger than WEFT_BODY_LIMIT.' },
  invalid_graph: {
    status: 400,
    description:
      'A node is malformed (the key and JSON path are given), the graph is empty or not an object, or layers define a key twice.',
  },
  unknown_key: { status: 400, description: 'A requested key is not in the graph (the missing keys are listed).' },
  missing_dependency: {
    status: 400,
    description: 'A $ref names a key that is not in the graph (the referring key and the missing one are given).',
  },
  cycle: { status: 400, description: 'The graph has a dependency cycle (its keys are given in order).' },
  unknown_op: { status: 400, description: 'A task calls an op no worker has registered.' },
  too_many_tasks: { status: 400, description: 'The graph needs more tasks than WEFT_MAX_TASKS.' },
  unauthorized: {
    status: 401,
    description: 'The request has no API token, or one the service does not know (send Authorization: Bearer <token>).',
  },
  forbidden: {
    status: 403,
    description: 'The route shows the whole service (stats, workers, metrics) and needs an operator token.',
  },
  too_many_graphs: {
    status: 429,
    description: 'The tenant already has WEFT_MAX_GRAPHS_IN_FLIGHT graphs queued or running; wait for some to end.',
  },
  key_too_long: {
    status: 400,
    description:
      "A graph key is longer than WEFT_MAX_KEY_BYTES bytes of UTF-8 (the key's first characters, its size and the limit are given).",
  },
  value_too_large: {
    status: 413,
    description:
      'A value to store (a POST /v1/objects body, a literal of a graph) encodes to more than WEFT_MAX_VALUE_BYTES.',
  },
  forbidden_target: {
    status: 400,
    description:
      'A webhook or presubmit URL is not http(s), or its host is or resolves to a private, loopback, link-local or other non-public address (unless WEFT_ALLOW_PRIVATE_WEBHOOKS=1).',
  },
  not_found: { status: 404, description: 'No such route, or the path does not take this method.' },
  graph_not_found: {
    status: 404,
    description: 'No graph has this id (it never existed, or its retention time passed).',
  },
  object_not_found: {
    status: 404,
    description: 'No object has this id: it never existed, was released, or its time to live passed.',
  },
  object_lost: {
    status: 410,
    description:
      'The object existed but its bytes are gone (its spill file was removed or cut short), and it has no lineage to compute it again (its graph ended).',
  },
  object_failed: {
    status: 409,
    description: 'The object has no value: the graph computing it failed or was cancelled (its error is given).',
  },
  unknown_object: {
    status: 400,
    description: 'A graph uses {"$oid": ...} objects that do not exist (they are listed).',
  },
  not_acceptable: {
    status: 406,
    description:
      'The Accept header admits none of the types the route answers with (JSON for most; openapi.yaml lists them), or the object cannot be given in the type asked for (application/octet-stream is for bytes values only).',
  },
  service_unavailable: { status: 503, description: 'Redis does not answer; retry later.' },
  internal: { status: 500, description: 'A bug in weft; the message says what failed.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.status = errorCatalogue[code].status;
  }

  toBody(): { error: Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message: string;
  validation?: { instancePath?: string; message?: string; params?: Record<string, unknown> }[];
  validationContext?: string;
}

/** Maps anything thrown while handling a request to a catalogued error. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof GraphError || err instanceof SubmissionError)
    return new ApiError(err.code, err.message, err.details);
  if (err instanceof ObjectLostError) return new ApiError('object_lost', err.message, { oid: err.object });
  if (err instanceof ValueTooLargeError)
    return new ApiError('value_too_large', err.message, { bytes: err.bytes, limit: err.limit });
  if (err instanceof ForbiddenTargetError) return new ApiError('forbidden_target', err.message, { url: err.url });
  const e = err as FastifyLikeError;
  if (e?.validation) {
    const first = e.validation[0] ?? {};
    const where = `${e.validationContext ?? 'body'}${first.instancePath ?? ''}`;
    const extra =
      first.params && 'additionalProperty' in first.params
        ? ` (${JSON.stringify(first.params.additionalProperty)})`
        : '';
    return new ApiError('invalid_request', `${where} ${first.message ?? 'is invalid'}${extra}.`, { path: where });
  }
  switch (e?.code) {
    case 'FST_ERR_MAX_PARAM_LENGTH':
      // Longer than any id: graph ids have at most 64 characters, object ids 100 (the router's limit).
      return new ApiError(
        'invalid_request',
        'A path parameter is longer than 100 characters, longer than any id (graph ids have at most 64, object ids at most 100).',
        { path: 'params' },
      );
    case 'FST_ERR_BAD_URL':
      return new ApiError(
        'invalid_request',
        'The path is not valid percent-encoding: a % must start an escape of UTF-8 such as %C3%A9.',
        { path: 'params' },
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('invalid_request', 'The body is not as long as its Content-Length header says.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(
        'body_too_large',
        `The body is larger than this service accepts (WEFT_BODY_LIMIT). Split the graph or persist parts of it.`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(
        'unsupported_media_type',
        'Content-Type is not supported here: send JSON with Content-Type: application/json (or a type the route lists in openapi.yaml).',
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('invalid_json', 'The body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('invalid_json', `The body is not valid JSON: ${e.message}`);
  }
  if (err instanceof SyntaxError || e?.statusCode === 400)
    return new ApiError('invalid_json', `The body is not valid JSON: ${e.message}`);
  if (isConnectionError(err))
    return new ApiError('service_unavailable', `Redis does not answer (${e.message}); retry later.`);
  return new ApiError('internal', `Internal error: ${e?.message ?? String(err)}`);
}

function isConnectionError(err: unknown): boolean {
  const msg = (err as Error)?.message ?? '';
  return /Connection is closed|ECONNREFUSED|ETIMEDOUT|max retries per request|Stream isn't writeable/i.test(msg);
}
