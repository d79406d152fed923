/**
 * A local stand-in for the X-Ray daemon: its trace model, summaries in the X-Ray API's
 * shape, and the filter expression language.
 *
 * @packageDocumentation
 */
export * from './model'
export * from './summary'
export * from './filter'
