export * from './ast'
export { FilterSyntaxError, MAX_FILTER_DEPTH, MAX_FILTER_TERMS, parseFilter } from './parse'
export { printFilter } from './print'
export { compileFilter, evaluateFilter } from './evaluate'
