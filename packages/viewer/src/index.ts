/**
 * A local stand-in for the X-Ray daemon: it keeps the traces SDKs send over UDP and serves
 * the X-Ray read API over them. `startViewer` runs it in-process; the pieces (the trace
 * model, summaries, the filter expression language, the service graph, the store, the
 * daemon sockets and the HTTP API) are exported for tools and tests.
 *
 * @packageDocumentation
 */
export * from './model'
export * from './summary'
export * from './filter'
export * from './graph'
export * from './rules'
export * from './lint'
export * from './ingest'
export * from './store'
export * from './daemon'
export * from './sampling'
export * from './api'
export * from './http'
export * from './viewer'
export { parseCommandLine } from './cli'
export type { CommandLine, CommandLineError } from './cli'
