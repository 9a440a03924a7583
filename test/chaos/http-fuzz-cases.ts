/**
 * The HTTP fuzzer's cases: bad input of every kind the issue names, each with what a correct
 * server answers. Every case must get an answer below 500 that shows no stack trace; most name
 * the exact status. Cases that may legitimately create an order say so, and the order joins the
 * consistency checks (stored once, payload verbatim).
 */
import { HOSTILE_STRINGS } from './order-payloads.js';
import type { RawRequest } from './raw-http.js';
import type { SeededRandom } from './seeded-random.js';

export interface FuzzCase {
  readonly name: string;
  readonly request: RawRequest | Buffer;
  /** Statuses a correct server may answer; default any 4xx. */
  readonly statuses?: readonly number[];
  /** Answered by Node's HTTP parser before Operon sees it: any body is fine. */
  readonly protocolLevel?: boolean;
  /** The connection may be closed without an answer (an incomplete request). */
  readonly mayDrop?: boolean;
  /** The order this request places if answered 200, with the payload the server must store. */
  readonly places?: { readonly payload: string | undefined };
  /** Further checks on the answer; returns what is wrong. */
  readonly check?: (status: number, body: string) => string | undefined;
}

const JSON_TYPE: readonly [string, string] = ['content-type', 'application/json'];

function post(path: string, body: string | Buffer, headers: readonly (readonly [string, string | Buffer])[] = [JSON_TYPE]): RawRequest {
  return { method: 'POST', path, headers, body };
}

function orderBody(orderId: unknown, payload: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ orderId, payload, ...extra });
}

/** Cases that need no server state: malformed bodies, wrong types, odd headers, paths, bytes. */
export function staticCases(rng: SeededRandom): FuzzCase[] {
  const id = (label: string) => `fuzz-${rng.seed}-${label}`;
  const cases: FuzzCase[] = [];
  const add = (c: FuzzCase) => cases.push(c);
  for (const group of [malformedBodies, oversizedBodies, wrongShapes, contentTypesAndHeaders, identityHeaders, oddBytes, pathTricks, hostileOrders]) group(add, id, rng);
  return cases;
}

type Add = (c: FuzzCase) => void;
type Id = (label: string) => string;

/** Malformed JSON, and keys that would poison prototypes: 400. */
function malformedBodies(add: Add, id: Id, rng: SeededRandom): void {
  for (const [label, text] of [
    ['truncated', '{"orderId": "x", "payload": "y"'],
    ['trailing comma', '{"orderId": "x", "payload": "y",}'],
    ['single quotes', "{'orderId': 'x', 'payload': 'y'}"],
    ['NaN', '{"orderId": NaN, "payload": "y"}'],
    ['comment', '{"orderId": "x", /* c */ "payload": "y"}'],
    ['two documents', '{"orderId": "x", "payload": "y"}{"a": 1}'],
    ['bare word', 'undefined'],
    ['lone brace', '}'],
    ['unterminated string', '{"orderId": "x'],
    ['bad escape', '{"orderId": "\\x41", "payload": "y"}'],
    ['control character in string', '{"orderId": "a\u0001b", "payload": "y"}'],
    ['deep array', `${'['.repeat(5_000)}${']'.repeat(5_000)}`],
    ['deep object', `${'{"a":'.repeat(3_000)}1${'}'.repeat(3_000)}`],
    ['deep unbalanced', '['.repeat(100_000)],
  ] as const) {
    add({ name: `malformed JSON (${label}) to /orders`, request: post('/orders', text), statuses: [400] });
    add({ name: `malformed JSON (${label}) to /echo`, request: post('/echo', text), statuses: [400] });
  }
  add({ name: 'prototype poisoning (__proto__)', request: post('/orders', `{"orderId":"${id('proto')}","payload":"p","__proto__":{"polluted":true}}`), statuses: [400] });
  add({ name: 'prototype poisoning (constructor.prototype)', request: post('/echo', '{"text":"t","constructor":{"prototype":{"polluted":true}}}'), statuses: [400] });
}

/** Bodies over the limit (413) and values over the schema's limits (400). */
function oversizedBodies(add: Add, id: Id, rng: SeededRandom): void {
  add({ name: 'body over the 1 MiB limit', request: post('/orders', orderBody(id('huge'), 'x'.repeat(1_100_000))), statuses: [413] });
  add({ name: 'payload over the schema maxLength', request: post('/orders', orderBody(id('long'), 'x'.repeat(5_000))), statuses: [400] });
  add({ name: 'echo text over its limit', request: post('/echo', JSON.stringify({ text: 'y'.repeat(20_000) })), statuses: [400] });
  add({ name: '50,000 extra keys', request: post('/orders', JSON.stringify(Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i])))), statuses: [400] });
  add({ name: 'huge array as the body', request: post('/echo', JSON.stringify(Array.from({ length: 100_000 }, (_, i) => i))), statuses: [400] });
  add({ name: 'huge number', request: post('/orders', `{"orderId": 1e999999, "payload": "p"}`), statuses: [400, 200], places: { payload: 'p' } });
}

/** Wrong types, missing and extra fields. */
function wrongShapes(add: Add, id: Id, rng: SeededRandom): void {
  for (const [label, value] of [
    ['null', null],
    ['object', { a: 1 }],
    ['a two-item array', ['a', 'b']],
    ['empty string', ''],
    ['too long', 'i'.repeat(101)],
  ] as const) {
    add({ name: `orderId as ${label}`, request: post('/orders', orderBody(value, 'p')), statuses: [400] });
  }
  add({ name: 'orderId as a number (coerced to a string by the schema)', request: post('/orders', orderBody(Number(`${rng.int(100_000, 999_999)}${rng.seed % 1000}`), 'p')), statuses: [200, 400], places: { payload: 'p' } });
  add({ name: 'orderId as a one-item array (unwrapped by the schema)', request: post('/orders', orderBody([id('array')], 'p')), statuses: [200, 400], places: { payload: 'p' } });
  add({ name: 'orderId as a boolean', request: post('/orders', orderBody(rng.chance(0.5), 'p')), statuses: [200, 400], places: { payload: 'p' } });
  add({ name: 'payload as an object', request: post('/orders', orderBody(id('objpayload'), { nested: true })), statuses: [400] });
  add({ name: 'echo text as a number', request: post('/echo', '{"text": 12}'), statuses: [400] });
  add({ name: 'echo text as null', request: post('/echo', '{"text": null}'), statuses: [400] });
  add({ name: 'echo text as an object', request: post('/echo', '{"text": {"toString": "x"}}'), statuses: [400] });
  add({ name: 'missing payload', request: post('/orders', JSON.stringify({ orderId: id('nopayload') })), statuses: [400] });
  add({ name: 'missing orderId', request: post('/orders', JSON.stringify({ payload: 'p' })), statuses: [400] });
  add({ name: 'empty object', request: post('/orders', '{}'), statuses: [400] });
  add({ name: 'empty body with a JSON type', request: post('/orders', ''), statuses: [400] });
  add({ name: 'no body at all', request: { method: 'POST', path: '/orders', headers: [JSON_TYPE] }, statuses: [400] });
  add({ name: 'missing echo text', request: post('/echo', '{}'), statuses: [400] });
  add({ name: 'JSON null body', request: post('/orders', 'null'), statuses: [400] });
  add({ name: 'JSON string body', request: post('/echo', '"text"'), statuses: [400] });
  add({
    name: 'extra field (removed by the schema, or refused)',
    request: post('/orders', orderBody(id('extra'), 'extra field', { admin: true, seq: 1 })),
    statuses: [200, 400],
    places: { payload: 'extra field' },
  });
}

/** Content types, and headers Node's parser or Operon must refuse. */
function contentTypesAndHeaders(add: Add, id: Id, rng: SeededRandom): void {
  add({ name: 'text/plain body', request: post('/orders', orderBody(id('text'), 'p'), [['content-type', 'text/plain']]), statuses: [415] });
  add({ name: 'no content type', request: post('/orders', orderBody(id('notype'), 'p'), []), statuses: [415] });
  add({ name: 'form body', request: post('/orders', 'orderId=a&payload=b', [['content-type', 'application/x-www-form-urlencoded']]), statuses: [415] });
  add({ name: 'multipart body', request: post('/echo', '--x\r\n\r\nhi\r\n--x--', [['content-type', 'multipart/form-data; boundary=x']]), statuses: [415] });
  add({ name: 'a JSON type with a bogus charset', request: post('/echo', '{"text":"t"}', [['content-type', 'application/json; charset=klingon']]), statuses: [200, 400, 415] });
  add({ name: 'an upper-case JSON type', request: post('/echo', '{"text":"t"}', [['content-type', 'APPLICATION/JSON']]), statuses: [200, 415] });
  add({ name: 'duplicate content-length', request: post('/echo', '{"text":"t"}', [JSON_TYPE, ['content-length', '12'], ['content-length', '13']]), protocolLevel: true, statuses: [400] });
  add({ name: 'content-length and chunked together', request: post('/echo', '{"text":"t"}', [JSON_TYPE, ['content-length', '12'], ['transfer-encoding', 'chunked']]), protocolLevel: true, statuses: [400] });
  add({ name: 'content-length longer than the body', request: post('/echo', '{"text":"t"}', [JSON_TYPE, ['content-length', '100']]), mayDrop: true, protocolLevel: true });
  add({ name: 'negative content-length', request: post('/echo', '{"text":"t"}', [JSON_TYPE, ['content-length', '-1']]), protocolLevel: true, statuses: [400] });
  add({ name: 'a 20 KB header', request: { method: 'GET', path: '/operon/health', headers: [['x-big', 'b'.repeat(20_000)]] }, protocolLevel: true, statuses: [431, 400] });
  add({ name: '300 headers', request: { method: 'GET', path: '/orders/x', headers: Array.from({ length: 300 }, (_, i) => [`x-h${i}`, 'v'] as const) }, statuses: [404, 431, 400], protocolLevel: true });
  add({ name: 'a NUL byte in a header', request: { method: 'GET', path: '/orders/x', headers: [['x-odd', Buffer.from([0x61, 0x00, 0x62])]] }, protocolLevel: true, statuses: [400] });
  add({ name: 'a header without a colon', request: Buffer.from('GET /operon/health HTTP/1.1\r\nhost: x\r\nno colon here\r\nconnection: close\r\n\r\n'), protocolLevel: true, statuses: [400] });
  add({ name: 'expect: 100-continue', request: post('/echo', '{"text":"t"}', [JSON_TYPE, ['expect', '100-continue']]), statuses: [200, 417] });
  add({ name: 'an upgrade request', request: { method: 'GET', path: '/operon/health', headers: [['connection', 'upgrade'], ['upgrade', 'websocket']] }, statuses: [200, 400, 426], mayDrop: true, protocolLevel: true });
}

/** The workflow UUID and caller headers. */
function identityHeaders(add: Add, id: Id, rng: SeededRandom): void {
  for (const [label, value] of [
    ['empty', ''],
    ['201 characters', 'u'.repeat(201)],
    ['with a space', 'a b'],
    ['with a tab', 'a\tb'],
    ['non-ASCII bytes', Buffer.from([0xc3, 0xa9, 0xff, 0xfe])],
  ] as const) {
    add({ name: `operon-workflowuuid ${label}`, request: post('/echo', '{"text":"t"}', [JSON_TYPE, ['operon-workflowuuid', value]]), statuses: [400] });
  }
  add({
    name: 'operon-workflowuuid sent twice',
    request: post('/echo', '{"text":"t"}', [JSON_TYPE, ['operon-workflowuuid', `${id('dup')}-a`], ['operon-workflowuuid', `${id('dup')}-b`]]),
    statuses: [400],
  });
  add({ name: 'x-chaos-user not a user name', request: post('/echo', '{"text":"t"}', [JSON_TYPE, ['x-chaos-user', "admin'--"]]), statuses: [401] });
  add({ name: 'x-chaos-user with non-UTF-8 bytes', request: post('/echo', '{"text":"t"}', [JSON_TYPE, ['x-chaos-user', Buffer.from([0xff, 0x80])]]), statuses: [401] });
  add({ name: 'x-request-id with odd bytes (replaced, not refused)', request: { method: 'GET', path: '/operon/health', headers: [['x-request-id', Buffer.from('id\x7f\xff')]] }, statuses: [200, 400], protocolLevel: true });
  add({ name: 'a garbage traceparent', request: { method: 'GET', path: '/orders/nothing', headers: [['traceparent', '00-zz-zz-zz']] }, statuses: [404] });
}

/** Bytes that are not UTF-8, and NUL, in the body, path and query. */
function oddBytes(add: Add, id: Id, rng: SeededRandom): void {
  add({ name: 'non-UTF-8 bytes inside a JSON string', request: post('/echo', Buffer.concat([Buffer.from('{"text":"a'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')])), statuses: [200, 400] });
  add({ name: 'overlong UTF-8 in a JSON string', request: post('/echo', Buffer.concat([Buffer.from('{"text":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])), statuses: [200, 400] });
  add({ name: 'UTF-16 body', request: post('/echo', Buffer.from('{"text":"t"}', 'utf16le')), statuses: [400] });
  add({ name: 'a BOM before the JSON', request: post('/echo', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"text":"t"}')])), statuses: [200, 400] });
  add({ name: 'a NUL character in orderId', request: post('/orders', orderBody(`${id('nul')}\u0000x`, 'p')), statuses: [400] });
  add({ name: 'a NUL character in the payload', request: post('/orders', orderBody(id('nulpayload'), 'a\u0000b')), statuses: [400] });
  add({ name: 'a lone surrogate in the echo text', request: post('/echo', '{"text":"\\ud800"}'), statuses: [200, 400] });
  add({ name: 'raw non-UTF-8 bytes in the path', request: { method: 'GET', path: Buffer.concat([Buffer.from('/orders/'), Buffer.from([0xff, 0xfe, 0x80])]) }, statuses: [400, 404], protocolLevel: true });
  add({ name: 'percent-encoded invalid UTF-8 in the path', request: { method: 'GET', path: '/orders/%ff%fe%c3' }, statuses: [400, 404] });
  add({ name: 'percent-encoded NUL in the path', request: { method: 'GET', path: '/orders/a%00b' }, statuses: [400, 404] });
  add({ name: 'a broken percent escape', request: { method: 'GET', path: '/orders/%zz%' }, statuses: [400, 404] });
  add({ name: 'odd bytes in the query string', request: { method: 'GET', path: Buffer.concat([Buffer.from('/orders/x?q='), Buffer.from([0xff, 0x00])]) }, statuses: [400, 404], protocolLevel: true });
}

/**
 * Path tricks. Some are the order route after all (absolute-form targets, `;` parameters): those
 * must place their order once, like any other.
 */
function pathTricks(add: Add, id: Id, rng: SeededRandom): void {
  [
    '/orders/../orders',
    '/./orders',
    '//orders',
    '/orders/%2e%2e/collectors/x/stop',
    '/operon/health/../../orders',
    '/ORDERS',
    '/orders/',
    '/orders;jsessionid=1',
    '\\orders',
    'http://evil.example/orders',
    '*',
    `/${'a/'.repeat(2_000)}`,
    `/orders/${'x'.repeat(50_000)}`,
    '/collectors/not-a-collector/stop',
    '/collectors/not-a-collector/start',
    '/collectors/%2e%2e%2f%2e%2e/stop',
  ].forEach((path, i) => {
    add({
      name: `POST ${path.slice(0, 60)}`,
      request: post(path, orderBody(id(`path${i}`), 'path trick')),
      statuses: [200, 400, 404, 414, 431],
      places: { payload: 'path trick' },
      protocolLevel: !path.startsWith('/') || path.length > 10_000,
    });
  });
  for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE']) {
    add({ name: `${method} /orders`, request: { method, path: '/orders', headers: [JSON_TYPE], body: orderBody(id(method), 'p') }, statuses: [400, 404, 405] });
  }
  add({ name: 'a method that does not exist', request: { method: 'FOO', path: '/orders' }, protocolLevel: true, statuses: [400, 404, 405, 501] });
  add({ name: 'GET /orders without an id', request: { method: 'GET', path: '/orders' }, statuses: [404] });
  add({ name: 'HEAD /operon/health', request: { method: 'HEAD', path: '/operon/health' }, statuses: [200] });
  add({ name: 'an unknown order', request: { method: 'GET', path: `/orders/${encodeURIComponent(id('never'))}` }, statuses: [404] });
  add({ name: 'HTTP/1.0 without a host', request: Buffer.from('GET /operon/health HTTP/1.0\r\n\r\n'), protocolLevel: true, statuses: [200, 400] });
  add({ name: 'HTTP/2 preface over HTTP/1.1', request: Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), protocolLevel: true, mayDrop: true, statuses: [400, 505] });
}

/** SQL injection and other hostile strings as order ids and payloads: stored and read back verbatim. */
function hostileOrders(add: Add, id: Id, rng: SeededRandom): void {
  HOSTILE_STRINGS.forEach((hostile, i) => {
    const orderId = `${id(`sql${i}`)} ${hostile}`.slice(0, 100);
    add({ name: `SQL injection ${i} as an order`, request: post('/orders', orderBody(orderId, hostile)), statuses: [200], places: { payload: hostile } });
  });
}

/** Random byte-level mutations of a valid echo request (never an order: a mangled order might still place one). */
export function mutatedCases(rng: SeededRandom, count: number): FuzzCase[] {
  const base = Buffer.from(
    `POST /echo HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n{"text":"t"}`,
  );
  const cases: FuzzCase[] = [];
  for (let n = 0; n < count; n++) {
    const bytes = Buffer.from(base);
    const edits = rng.int(1, 4);
    let mutated: Buffer = bytes;
    for (let e = 0; e < edits; e++) {
      const at = rng.int(0, mutated.length - 1);
      const roll = rng.next();
      if (roll < 0.4) mutated[at] = rng.int(0, 255);
      else if (roll < 0.7) mutated = Buffer.concat([mutated.subarray(0, at), rng.bytes(rng.int(1, 8)), mutated.subarray(at)]);
      else mutated = Buffer.concat([mutated.subarray(0, at), mutated.subarray(Math.min(mutated.length, at + rng.int(1, 8)))]);
    }
    cases.push({ name: `mutated request ${n}`, request: mutated, protocolLevel: true, mayDrop: true, statuses: [200, 400, 401, 404, 405, 413, 414, 415, 431, 505] });
  }
  for (let n = 0; n < Math.ceil(count / 4); n++) {
    cases.push({ name: `random bytes ${n}`, request: rng.bytes(rng.int(1, 2_000)), protocolLevel: true, mayDrop: true, statuses: [400, 404, 405, 413, 414, 431, 505] });
  }
  return cases;
}
