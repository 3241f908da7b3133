// The REST contract as a test oracle: every answer a REST test receives is checked against the
// OpenAPI document in src/rest/v1/openapi.json (the same file GET /v1/openapi.json serves).
//
// An answer passes only when its path and method are documented, its status is documented for
// that operation, its body validates against the documented schema (ajv, JSON Schema 2020-12),
// its documented headers are present and valid, and X-Request-Id equals meta.requestId. Unknown
// paths and wrong methods are failures too, unless the test says it is probing them on purpose
// (`undocumented: 'path' | 'method'`); then the answer must be the document's `x-unknown-path`
// (404) or the path's `x-method-not-allowed` (405 with an Allow header naming exactly the
// documented methods). Any 5xx fails unless the test allows it, and no error body may carry a
// stack trace or a source path.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { loadOpenApiDocument } from '../../src/rest/v1/openapi.ts';
import type { HttpAnswer, TestApp } from './app.ts';

// ajv-formats is CommonJS with `module.exports = plugin`; its typings only describe `.default`.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as
  typeof addFormatsModule.default;

type Json = Record<string, any>;

export const openApiDocument: Json = loadOpenApiDocument();

const DOC_ID = 'https://optimocms.test/openapi.json';
export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
/** Something that looks like a stack frame or a path into our sources. */
const STACK_LIKE = /\bat [^\s]+ \(|\bat (file|node):|node_modules|\/src\/\S+\.ts\b|\.ts:\d+|\n\s+at /;

const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
addFormats(ajv);
// OpenAPI's own keywords beside JSON Schema (annotations only), and the document's top level,
// which ajv sees as one big schema so that "#/components/..." references resolve in place.
ajv.addVocabulary(['discriminator', 'xml', 'externalDocs', 'example']);
ajv.addVocabulary(
  Object.keys(openApiDocument).filter((key) => !['$id', '$schema', 'description'].includes(key) && !ajv.getKeyword(key)),
);
ajv.addSchema({ ...openApiDocument, $id: DOC_ID });

const validators = new Map<string, ValidateFunction>();

/** A validator for the schema at `pointer` (a "#/..." JSON pointer into the document). */
export function validatorAt(pointer: string): ValidateFunction {
  let validate = validators.get(pointer);
  if (!validate) {
    validate = ajv.compile({ $ref: DOC_ID + pointer });
    validators.set(pointer, validate);
  }
  return validate;
}

const escape = (part: string) => part.replace(/~/g, '~0').replace(/\//g, '~1');

function at(pointer: string): any {
  let value: any = openApiDocument;
  for (const part of pointer.replace(/^#\//, '').split('/')) {
    value = value?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  if (value === undefined) throw new Error(`OpenAPI: nothing at ${pointer}`);
  return value;
}

/** Follows OpenAPI-level $refs (responses, headers, parameters); returns the object and where it is. */
export function resolve(value: any, pointer: string): { value: any; pointer: string } {
  let hops = 0;
  while (value && typeof value.$ref === 'string') {
    if (++hops > 10) throw new Error(`OpenAPI: $ref loop at ${pointer}`);
    pointer = value.$ref;
    value = at(pointer);
  }
  return { value, pointer };
}

/** A path parameter as the router reads it: percent-decoded; '' when it cannot be decoded. */
function decodedSegment(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return '';
  }
}

export interface PathMatch {
  template: string;
  item: Json;
  pointer: string;
}

/** The documented path template a concrete path falls under (segments as the router splits them). */
export function matchPath(pathname: string): PathMatch | null {
  const parts = pathname.split('/').filter(Boolean);
  let best: (PathMatch & { literals: number }) | null = null;
  for (const [template, item] of Object.entries(openApiDocument.paths as Json)) {
    const segments = template.split('/').filter(Boolean);
    if (segments.length !== parts.length) continue;
    let literals = 0;
    let ok = true;
    for (let i = 0; i < segments.length && ok; i++) {
      const segment = segments[i]!;
      if (/^\{[^}]+\}$/.test(segment)) ok = decodedSegment(parts[i]!) !== '';
      else if (segment === parts[i]) literals++;
      else ok = false;
    }
    if (ok && (!best || literals > best.literals)) {
      best = { template, item, pointer: `#/paths/${escape(template)}`, literals };
    }
  }
  return best && { template: best.template, item: best.item, pointer: best.pointer };
}

export function documentedMethods(item: Json): string[] {
  return HTTP_METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
}

export interface ContractOptions {
  /** The test probes an undocumented path (expects x-unknown-path) or method (x-method-not-allowed). */
  undocumented?: 'path' | 'method';
  /** 5xx answers fail unless the test expects one. */
  allowServerError?: boolean;
}

export class ContractViolation extends Error {
  override name = 'ContractViolation';
}

const formatErrors = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((e) => `  ${e.instancePath || '(root)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('\n');

/** Throws a ContractViolation unless `answer` is what the document promises for this request. */
export function checkContract(method: string, target: string, answer: HttpAnswer, options: ContractOptions = {}): void {
  const upper = method.toUpperCase();
  const pathname = new URL(target, 'http://contract.test').pathname;
  const where = `${upper} ${target} -> ${answer.status}`;
  const fail = (message: string): never => {
    throw new ContractViolation(`${where}: ${message}\nbody: ${answer.text.slice(0, 2000)}`);
  };

  const found = matchPath(pathname);
  let response: { value: any; pointer: string };
  let operationName: string;
  if (!found) {
    if (options.undocumented !== 'path') fail(`path ${pathname} is not in the OpenAPI document`);
    operationName = 'x-unknown-path';
    response = resolve(openApiDocument['x-unknown-path'], '#/x-unknown-path');
    if (answer.status !== 404) fail('an undocumented path must answer 404');
  } else {
    const operation = found.item[upper.toLowerCase()];
    if (operation) {
      if (options.undocumented) fail(`${upper} ${found.template} is documented, but the test expected it not to be`);
      operationName = `${upper} ${found.template}`;
      const status = String(answer.status);
      if (!operation.responses?.[status]) {
        fail(`status ${status} is not documented for ${operationName} (documented: ${Object.keys(operation.responses ?? {}).join(', ')})`);
      }
      response = resolve(
        operation.responses[status],
        `${found.pointer}/${upper.toLowerCase()}/responses/${status}`,
      );
    } else {
      if (options.undocumented !== 'method') fail(`${upper} is not documented on ${found.template}`);
      if (!found.item['x-method-not-allowed']) fail(`${found.template} documents no x-method-not-allowed answer`);
      operationName = `${upper} ${found.template} (x-method-not-allowed)`;
      response = resolve(found.item['x-method-not-allowed'], `${found.pointer}/x-method-not-allowed`);
      if (answer.status !== 405) fail('a wrong method on a documented path must answer 405');
      const allow = (answer.headers.get('allow') ?? '').split(',').map((m) => m.trim()).filter(Boolean).sort();
      const documented = documentedMethods(found.item).sort();
      if (allow.join(',') !== documented.join(',')) {
        fail(`Allow header ${JSON.stringify(allow)} differs from the documented methods ${JSON.stringify(documented)}`);
      }
    }
  }

  if (answer.status >= 500 && !options.allowServerError) fail('server error');

  // Headers the response documents.
  for (const [name, header] of Object.entries((response.value.headers ?? {}) as Json)) {
    const resolved = resolve(header, `${response.pointer}/headers/${escape(name)}`);
    const value = answer.headers.get(name);
    if (value === null) {
      if (resolved.value.required) fail(`required header ${name} is missing`);
      continue;
    }
    const validate = validatorAt(`${resolved.pointer}/schema`);
    if (!validate(value)) fail(`header ${name}: ${JSON.stringify(value)} is invalid:\n${formatErrors(validate.errors)}`);
  }

  // The body.
  const content = response.value.content as Json | undefined;
  if (content) {
    const contentType = (answer.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!content[contentType]) fail(`content-type ${JSON.stringify(contentType)} is not documented (${Object.keys(content).join(', ')})`);
    if (contentType === 'application/json' && answer.body === undefined) fail('body is not JSON');
    const validate = validatorAt(`${response.pointer}/content/${escape(contentType)}/schema`);
    if (!validate(answer.body)) fail(`body does not match the schema of ${operationName}:\n${formatErrors(validate.errors)}`);
  } else if (answer.text !== '') {
    fail('a body was sent where none is documented');
  }

  // Request id: a UUID, and the same in the header and in meta.
  const requestId = answer.headers.get('x-request-id');
  if (!requestId || !UUID.test(requestId)) fail(`x-request-id ${JSON.stringify(requestId)} is not a UUID`);
  const meta = (answer.body as Json | undefined)?.meta;
  if (meta !== undefined && meta.requestId !== requestId) {
    fail(`meta.requestId ${JSON.stringify(meta.requestId)} differs from x-request-id ${JSON.stringify(requestId)}`);
  }

  // Errors say what went wrong, never where in our code.
  if (answer.status >= 400 && STACK_LIKE.test(answer.text)) fail('error body looks like it carries a stack trace or a source path');
}

/** Validates a request body against the documented request schema of an operation. */
export function checkRequestBody(method: string, template: string, body: unknown): { valid: boolean; errors: string } {
  const pointer = `#/paths/${escape(template)}/${method.toLowerCase()}/requestBody/content/application~1json/schema`;
  at(pointer);
  const validate = validatorAt(pointer);
  const valid = validate(body) as boolean;
  return { valid, errors: formatErrors(validate.errors) };
}

export type RequestOptions = Parameters<TestApp['request']>[2] & ContractOptions;
export type ContractRequest = <T = any>(method: string, path: string, options?: RequestOptions) => Promise<HttpAnswer<T>>;

/**
 * `t.request` with the contract check on every answer: REST tests call the API only through this.
 */
export function contractRequest(t: TestApp): ContractRequest {
  return async (method, path, options = {}) => {
    const { undocumented, allowServerError, ...requestOptions } = options;
    const answer = await t.request(method, path, requestOptions);
    const contract: ContractOptions = {};
    if (undocumented) contract.undocumented = undocumented;
    if (allowServerError) contract.allowServerError = allowServerError;
    checkContract(method, path, answer, contract);
    return answer;
  };
}
