/**
 * Big-endian reads straight from the bytes (used by the reader and the ext decoder).
 *
 * @module
 */

export const TWO_32 = 4294967296;

// Big-endian reads straight from the bytes (no DataView per input); floats and 64-bit ints go through a scratch.
const SCRATCH = new Uint8Array(8);
const SCRATCH_VIEW = new DataView(SCRATCH.buffer);
export function u16(b: Uint8Array, p: number): number {
  return (b[p] << 8) | b[p + 1];
}
export function u32(b: Uint8Array, p: number): number {
  return b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
}
export function i8(b: Uint8Array, p: number): number {
  return (b[p] << 24) >> 24;
}
export function i16(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16)) >> 16;
}
export function i32(b: Uint8Array, p: number): number {
  return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
}
export function toScratch(b: Uint8Array, p: number, n: number): void {
  for (let i = 0; i < n; i++) SCRATCH[i] = b[p + i];
}
export function f32(b: Uint8Array, p: number): number {
  toScratch(b, p, 4);
  return SCRATCH_VIEW.getFloat32(0);
}
export function f64(b: Uint8Array, p: number): number {
  toScratch(b, p, 8);
  return SCRATCH_VIEW.getFloat64(0);
}
export function bu64(b: Uint8Array, p: number): bigint {
  toScratch(b, p, 8);
  return SCRATCH_VIEW.getBigUint64(0);
}
export function bi64(b: Uint8Array, p: number): bigint {
  toScratch(b, p, 8);
  return SCRATCH_VIEW.getBigInt64(0);
}
