/**
 * AWS X-Ray tracing for Node.js: the recorder, segments and subsegments, async context,
 * sampling, the emitter that sends to the X-Ray daemon, and capture of outgoing `http`,
 * `https` and `fetch` calls.
 *
 * @module @xraykit/core
 */
export { Recorder, xrayRecorder } from './recorder'
export type { CaptureDecorator, OnceLog } from './recorder'
export { Segment } from './segment'
export type { SegmentSink } from './segment'
export { Subsegment } from './subsegment'
export type { SqlData } from './subsegment'
export { Entity } from './entity'
export type { AnnotationValue, DownstreamHeaders, HttpData } from './entity'
export type { CauseData, ExceptionData, StackFrame } from './cause'
export { TraceHeader } from './trace-header'
export type { SampledFlag } from './trace-header'
export { TraceParent, parseTraceState, xrayTraceId, w3cTraceId } from './trace-context'
export { AsyncContext } from './context'
export type { Context } from './context'
export { UdpEmitter, MemoryEmitter, DAEMON_HEADER, MAX_DOCUMENT_BYTES } from './emitter'
export type { Emitter, EmitterStats, SocketAddress, UdpEmitterOptions } from './emitter'
export { LocalSampler, DEFAULT_SAMPLING_RULES, sampleAll, sampleNone } from './sampling'
export type { Sampler, SamplingDecision, SamplingRule, SamplingRulesDocument } from './sampling'
export type { XrayOptions, ContextMissingStrategy, Propagator } from './options'
export type { Logger, LogLevel } from './logger'
export { XrayError, XrayOptionsError, XrayContextError, ErrorCodes } from './errors'
export type { ErrorCode } from './errors'
export { CentralizedSampler } from './centralized-sampling'
export type { CentralizedSamplerOptions } from './centralized-sampling'
export { captureHTTPClients, releaseHTTPClients } from './http-client'
export { RequestTracer } from './request'
export type { RequestTracingOptions } from './request'
export type { XrayRequestContext } from './request-context'
