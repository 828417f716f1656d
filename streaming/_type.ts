/**
 * Payload types: a valibot schema plus the stable wire name and version of the message. Defined in the
 * wire layer (`kafka/_type.ts`, the codec compiles them) and re-exported here as part of the public API.
 *
 * @module
 */
export {
  type AnySchema,
  isMessageType,
  type MessageType,
  messageType,
  type PayloadOf,
  type SchemaOutput,
} from "../kafka/_type.ts";
