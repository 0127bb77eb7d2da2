/**
 * Request validation with openapi.yaml's schemas, by Fastify's own compiler
 * (ajv), in two modes. Query strings and path parameters are text, so their
 * schemas coerce: "?wait=10" is the number 10, "?limit=abc" is refused. A body
 * (JSON or MessagePack) has types of its own, so its schema does not coerce:
 * "wait": "10", true or null is 400 invalid_request, not a wait of 10, 1 or 0
 * seconds, and "keys": 5 is not the key "5".
 */
import { AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler';

const compilers = AjvCompiler();

/**
 * Defaults are filled in (useDefaults is on in Fastify's options), unknown
 * fields are refused by the schemas rather than removed. `coerceTypes: true`,
 * not Fastify's default 'array', which would also turn keys ["y"] into "y".
 */
const options = { removeAdditional: false, allErrors: false } as const;

export const buildValidator: ValidatorFactory = (externalSchemas) => {
  const coercing = compilers(externalSchemas, { customOptions: { ...options, coerceTypes: true } });
  const exact = compilers(externalSchemas, { customOptions: { ...options, coerceTypes: false } });
  return (route) => {
    if (route.httpPart === 'body') return exact(route);
    const validate = coercing(route);
    return route.httpPart === 'querystring' || route.httpPart === 'params' ? finite(validate) : validate;
  };
};

type Validate = ReturnType<ReturnType<ValidatorFactory>>;

/**
 * ajv coerces "Infinity" and "1e400" to Infinity and then skips its range
 * checks, which apply to finite numbers only: ?limit=1e400 reached Redis as a
 * count it refuses (a 500), ?wait=Infinity a timer that fires at once. A
 * query or path value that is a number must be a finite one.
 */
function finite(validate: Validate): Validate {
  const checked = ((data: unknown) => {
    const valid = validate(data);
    checked.errors = validate.errors;
    if (valid !== true || typeof data !== 'object' || data === null) return valid;
    for (const [name, value] of Object.entries(data))
      if (typeof value === 'number' && !Number.isFinite(value)) {
        checked.errors = [
          {
            instancePath: `/${name}`,
            schemaPath: '#/finite',
            keyword: 'finite',
            params: {},
            message: 'must be a finite number',
          },
        ];
        return false;
      }
    return true;
  }) as Validate;
  return checked;
}
