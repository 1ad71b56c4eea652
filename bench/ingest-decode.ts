/**
 * Click decoding throughput, before and after the structural pre-validator (src/ingest/avro-guard.ts):
 *
 *   avsc only          what AvroCodec.decode did before: avsc's decode plus the offset checks
 *   structure guard    the pre-validator's walk, counts and lengths only (checkStructure)
 *   strict guard       the same plus UTF-8 validation of every string's raw bytes (check)
 *   strict + avsc      AvroCodec.tryDecode now (the trainer's path): framing, strict guard, decode
 *   decodeClickRecord  the serving entry point: size cap, structure guard, key bytes, decode,
 *                      U+FFFD scan of the decoded strings, field and timestamp checks
 *
 * Each variant decodes the same pool of realistic records (ids like the RecSys Challenge's, a
 * third with a small context map) `--n` times per round, for `--rounds` rounds, interleaved so
 * that drift hits all variants alike; prints the median rate and the spread (min..max).
 *
 *   node --import tsx bench/ingest-decode.ts [--n 1000000] [--rounds 5] [--format plain|confluent]
 */
import { parseArgs } from 'node:util';
import { decodeClickRecord, ingestLimits } from '../src/ingest/click-decoder.ts';
import { type ClickEvent, makeCodecs } from '../src/ingest/codec.ts';
import { Rejection } from '../src/ingest/rejection.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '5' },
    format: { type: 'string', default: 'plain' },
  },
});
const N = Number(values.n);
const ROUNDS = Number(values.rounds);
const codecs = makeCodecs(values.format === 'confluent' ? 'confluent' : 'plain');
const codec = codecs.click;
const start = codec.format === 'plain' ? 0 : 5;

const POOL = 1024;
const now = Date.now();
const values_: Buffer[] = [];
const keys: Buffer[] = [];
for (let i = 0; i < POOL; i++) {
  const ev: ClickEvent = {
    sessionId: `${1_000_000 + i * 7919}`,
    userId: i % 2 ? `user-${i}` : null,
    itemId: `2145${(i * 104_729) % 100_000}`,
    eventType: (['CLICK', 'VIEW', 'ADD_TO_CART', 'PURCHASE'] as const)[i % 4],
    timestamp: now - i * 1000,
    context: i % 3 === 0 ? { page: 'product', ref: `campaign-${i % 17}` } : null,
  };
  values_.push(codec.encode(ev));
  keys.push(Buffer.from(ev.sessionId));
}
const limits = ingestLimits();

/** Consumed results, so that the decodes cannot be optimised away. */
let sink = 0;

const variants: Record<string, () => void> = {
  'avsc only': () => {
    const type = codec.type;
    for (let i = 0; i < N; i++) {
      const buf = values_[i & (POOL - 1)];
      const res = type.decode(buf, start) as { value: ClickEvent; offset: number };
      if (res.offset !== buf.length) throw new Error('bad record');
      sink += res.value.timestamp & 1;
    }
  },
  'structure guard': () => {
    const guard = codec.guard;
    for (let i = 0; i < N; i++) {
      if (guard.checkStructure(values_[i & (POOL - 1)], start) !== null) throw new Error('bad record');
      sink += guard.fieldLength[0];
    }
  },
  'strict guard': () => {
    const guard = codec.guard;
    for (let i = 0; i < N; i++) {
      if (guard.check(values_[i & (POOL - 1)], start) !== null) throw new Error('bad record');
      sink += guard.fieldLength[0];
    }
  },
  'strict + avsc': () => {
    for (let i = 0; i < N; i++) {
      const ev = codec.tryDecode(values_[i & (POOL - 1)]);
      if (ev instanceof Rejection) throw new Error(ev.reason);
      sink += ev.timestamp & 1;
    }
  },
  decodeClickRecord: () => {
    for (let i = 0; i < N; i++) {
      const j = i & (POOL - 1);
      const ev = decodeClickRecord(codecs, keys[j], values_[j], now, limits);
      if (ev instanceof Rejection) throw new Error(ev.reason);
      sink += ev.timestamp & 1;
    }
  },
};

const rates: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (const fn of Object.values(variants)) fn(); // warm-up: let every path be optimised first
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of Object.entries(variants)) {
    const t0 = performance.now();
    fn();
    rates[name].push(N / ((performance.now() - t0) / 1000));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const m = (x: number) => `${(x / 1e6).toFixed(2)}M/s`;
console.log(
  `click decode, ${codec.format} format, ${N.toLocaleString()} decodes × ${ROUNDS} rounds, pool of ${POOL} records (${values_[0].length}-${Math.max(...values_.map((v) => v.length))} bytes), node ${process.version}`,
);
const base = median(rates['avsc only']);
for (const [name, xs] of Object.entries(rates)) {
  const med = median(xs);
  const nsPer = 1e9 / med;
  const vs = name === 'avsc only' ? '' : `  ${((base / med - 1) * 100).toFixed(1).padStart(6)}% time vs avsc only`;
  console.log(`${name.padEnd(18)} median ${m(med).padStart(9)} (${nsPer.toFixed(0).padStart(4)} ns/record)  spread ${m(Math.min(...xs))}..${m(Math.max(...xs))}${vs}`);
}
if (sink === -1) console.log(sink);
