/**
 * The real flows of the property test (testing/_property_test.ts; not part of the public API): a flow spec
 * built as a StreamFlow of the DSL's nodes, computing what testing/_property_model.ts predicts.
 *
 * @module
 */
import * as v from "valibot";
import {
  BatchStep,
  Broadcast,
  BroadcastRoute,
  CollectBatch,
  DomainError,
  Drain,
  ExpandStep,
  ForEach,
  Fork,
  ForkRoute,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  payload,
  Process,
  type ProcessNode,
  RecordStep,
  Router,
  StreamFlow,
} from "../mod.ts";
import type { P, Pipe, RecSpec, StepSpec, TerminalSpec } from "./_property_spec.ts";

const Input = messageType(
  "prop.input",
  v.object({ id: v.pipe(v.number(), v.integer()), v: v.pipe(v.number(), v.integer()) }),
);

/** The StreamFlow of `spec` reading `in`, errors to `errs`; with `dlq`, every topic has a `<topic>.dlq`. */
export function buildFlow(spec: Pipe, dlq: boolean): StreamFlow<P> {
  let seq = 0;
  const into = (topic: string) => new IntoTopic(topic, dlq ? { dlq: `${topic}.dlq` } : {});
  const step = (s: StepSpec): RecordStep<P, P> => {
    const name = `S${seq++}`;
    const run = (p: P): P => {
      if (p.v % s.k === s.r) {
        throw s.business ? new DomainError(`${name} rejects ${p.v}`) : new Error(`${name} fails on ${p.v}`);
      }
      return { ...p, v: (p.v * s.a + s.b) % 100 };
    };
    if (s.async) return RecordStep.of((m: Message<P>) => Promise.resolve(m.payload).then(run), { name });
    return RecordStep.of((m: Message<P>) => run(m.payload), { name });
  };
  const recNodes = (n: RecSpec): ProcessNode[] => {
    switch (n.kind) {
      case "step":
        return [step(n)];
      case "router": {
        const selector = (m: Message<P>) => {
          if (n.throwMod !== null && m.payload.v % n.throwMod === 0) {
            throw new Error(`selector rejects ${m.payload.v}`);
          }
          return m.payload.v % n.m;
        };
        const routes = n.keys.map((k, i) => [k, new Process(...n.branches[i].map(step))] as const);
        return [Router.by(selector, routes, n.def ? { default: new Process(...n.def.map(step)) } : {})];
      }
      case "expand":
        return [
          ExpandStep.of((m: Message<P>) => {
            const p = m.payload;
            return Array.from(
              { length: (p.v + n.salt) % 4 },
              (_, j) => ({ ...p, v: (p.v * 3 + j * 11 + n.salt) % 100, sub: j }),
            );
          }, { name: `E${seq++}` }),
        ];
      case "batch": {
        const run = (ms: readonly Message<P>[]) =>
          ms.map((
            m,
          ) => (m.payload.v % n.k === n.r ? undefined : { ...m.payload, v: (m.payload.v + 7) % 100 })) as P[];
        return [
          new CollectBatch({ maxRecords: n.max, timeoutMs: n.timeout }),
          n.async
            ? BatchStep.of((ms: readonly Message<P>[]) => Promise.resolve(ms).then(run), {
              name: `B${seq++}`,
            })
            : BatchStep.of(run, { name: `B${seq++}` }),
          new ForEach(),
        ];
      }
    }
  };
  const terminal = (t: TerminalSpec): ProcessNode => {
    switch (t.kind) {
      case "topic":
        return into(t.topic);
      case "drain":
        return new Drain();
      case "broadcast":
        return new Broadcast(
          ...t.routes.map((r) =>
            new BroadcastRoute(new Process(...pipeNodes(r.pipe)), r.output ? into(r.output) : null)
          ),
        );
      case "fork": {
        const branches = t.branches.map((b) => new Process(...pipeNodes(b)));
        const def = t.def ? { default: new Process(...pipeNodes(t.def)) } : {};
        if (t.keyed) {
          return Fork.by(
            (m: Message<P>) => m.payload.v % t.m,
            t.conds.map((c, i) => [c, branches[i]] as const),
            def,
          );
        }
        return Fork.when(t.conds.map((c, i) => new ForkRoute(payload.field("v").lt(c), branches[i])), def);
      }
      case "output":
        throw new Error("output is not a node");
    }
  };
  const pipeNodes = (p: Pipe): ProcessNode[] => {
    const nodes = p.nodes.flatMap(recNodes);
    if (p.end && p.end.kind !== "output") nodes.push(terminal(p.end));
    return nodes;
  };
  return new StreamFlow<P>({
    name: "prop",
    source: new FromTopic<P>("in", Input),
    process: new Process<P>(...pipeNodes(spec)),
    output: spec.end?.kind === "output" ? into(spec.end.topic) : null,
    errors: into("errs"),
  });
}
