/** @internal Where an adapter keeps a request's tracing state on the Node response. */
export const kRequestState = Symbol.for('xraykit.request-state')
