// The relay flow with an OpenTelemetry provider registered by the flow module itself — what the README tells
// Bun users to do: the module is loaded by the main thread and by every Web Worker, so each registers the
// reference SDK's provider. Its exporter posts the finished spans' names, parents and attributes as JSON to
// LOOM_TEST_SPAN_SINK (an HTTP server of tests/otel_kafka_test.ts).
import process from "node:process";
import { trace } from "@opentelemetry/api";
import {
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { flow } from "./relay.ts";

const sink = process.env.LOOM_TEST_SPAN_SINK;
if (!sink) throw new Error("LOOM_TEST_SPAN_SINK is not set");
const exporter: SpanExporter = {
  export(spans: ReadableSpan[], done: (r: { code: number }) => void) {
    const body = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes })));
    fetch(sink, { method: "POST", body }).then(() => done({ code: 0 }), () => done({ code: 1 }));
  },
  shutdown: () => Promise.resolve(),
};
trace.setGlobalTracerProvider(
  new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }),
);

export { flow };
export default flow;
