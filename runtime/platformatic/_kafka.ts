/**
 * @platformatic/kafka as the adapter imports it: with its option validators compiled on first use
 * (`_lazy_validators.ts`, which defers ajv's compilation when it is evaluated — before the client, as the
 * first import here — and is restored once the client is evaluated, in this module's body). Every file of
 * the adapter imports the client's values from here, never from "@platformatic/kafka" directly, so
 * whichever is loaded first loads the client this way.
 *
 * @module
 */

import { restoreValidatorCompilation } from "./_lazy_validators.ts";
export {
  Admin,
  Consumer,
  crc32c,
  groupByProperty,
  heartbeatV4,
  kGetApi,
  NetworkError,
  offsetCommitV8,
  offsetFetchV8,
  Producer,
  ProtocolError,
  Reader,
  readKnownTaggedFields,
  readRecordsBatch,
  ResponseError,
  TimeoutError,
  Writer,
} from "@platformatic/kafka";
export type { Connection, GroupAssignment, MessageToProduce } from "@platformatic/kafka";

restoreValidatorCompilation();
