/** The Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian int, the body. */
import { WireFormatError, type RecordOrigin } from "../errors/index.js";

export const MAGIC_BYTE = 0;
const HEADER = 5;

export function toWireFormat(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(HEADER);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

export function fromWireFormat(
  bytes: Buffer,
  origin?: RecordOrigin,
): { schemaId: number; body: Buffer } {
  if (bytes.length < HEADER) {
    throw new WireFormatError(`${bytes.length} bytes is shorter than the 5-byte header`, origin);
  }
  const magic = bytes.readUInt8(0);
  if (magic !== MAGIC_BYTE)
    throw new WireFormatError(`unknown magic byte ${magic} (expected 0)`, origin);
  return { schemaId: bytes.readInt32BE(1), body: bytes.subarray(HEADER) };
}
