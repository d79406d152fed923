/** The syntax tree of an X-Ray filter expression, and the keywords it knows. */

/** Keywords that are true or false. */
export const booleanKeywords = ['ok', 'error', 'throttle', 'fault', 'partial', 'inferred', 'first', 'last', 'remote', 'root'] as const
/** Keywords that hold a number (times in seconds). */
export const numberKeywords = ['responsetime', 'duration', 'http.status', 'index', 'coverage'] as const
/** Keywords that hold a string. */
export const stringKeywords = ['http.url', 'http.method', 'http.useragent', 'http.clientip', 'user', 'name', 'type', 'message', 'availabilityzone', 'instance.id', 'resource.arn', 'account.id'] as const
/** The `group.*` keywords (strings). */
export const groupKeywords = ['group.name', 'group.arn'] as const

/** A boolean keyword. */
export type BooleanKeyword = typeof booleanKeywords[number]
/** A number keyword. */
export type NumberKeyword = typeof numberKeywords[number]
/** A string keyword. */
export type StringKeyword = typeof stringKeywords[number]
/** A group keyword. */
export type GroupKeyword = typeof groupKeywords[number]
/** Any simple keyword, or `annotation` (whose key is in {@link TermNode.key}). */
export type Keyword = BooleanKeyword | NumberKeyword | StringKeyword | GroupKeyword | 'annotation'

/** Comparison operators. `contains`, `beginswith`, `endswith` are written in any case. */
export type Operator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | 'beginswith' | 'endswith'

/** A literal value. */
export type Value =
  | {
    /** A quoted string, or a bare word where a string is expected. */
    type: 'string'
    /** The string, unescaped. */
    value: string
  }
  | {
    /** A number. */
    type: 'number'
    /** The number. */
    value: number
  }
  | {
    /** `true` or `false`. */
    type: 'boolean'
    /** The boolean. */
    value: boolean
  }

/** `keyword`, `keyword op value`, or `annotation.key [op value]`. */
export interface TermNode {
  /** `term`. */
  type: 'term'
  /** The keyword, lower case. */
  keyword: Keyword
  /** The annotation key, as written, for `annotation`; null otherwise. */
  key: string | null
  /** The operator, or null for a bare keyword (true, or set). */
  op: Operator | null
  /** The value, or null for a bare keyword. */
  value: Value | null
}

/** What `service()` and `edge()` name: a quoted name, or `id(name: …, type: …)`. */
export type Target =
  | {
    /** A quoted service name. */
    kind: 'name'
    /** The name. */
    name: string
  }
  | {
    /** `id(name: "…", type: "…")`, either part left out. */
    kind: 'id'
    /** The name, or null to match any. */
    name: string | null
    /** The type, or null to match any. */
    type: string | null
  }

/** `service(target) { filter }`; `service()` has no target. */
export interface ServiceNode {
  /** `service`. */
  type: 'service'
  /** The node matched, or null for any. */
  target: Target | null
  /** The filter on that service's segments, or null. */
  filter: FilterNode | null
}

/** `edge(source, destination) { filter }`. */
export interface EdgeNode {
  /** `edge`. */
  type: 'edge'
  /** The calling service. */
  source: Target
  /** The called service. */
  destination: Target
  /** The filter on the call, or null. */
  filter: FilterNode | null
}

/** `rootcause.<family>.<level> { filter }`. */
export interface RootCauseNode {
  /** `rootcause`. */
  type: 'rootcause'
  /** Which root causes. */
  family: 'fault' | 'error' | 'responsetime'
  /** What the filter is applied to: the services, the entities, or the exceptions of the root cause. */
  level: 'service' | 'entity' | 'exception'
  /** The filter, or null (any root cause of the family). */
  filter: FilterNode | null
}

/** `rootcause.json = #[ … ]`. */
export interface JsonNode {
  /** `json`. */
  type: 'json'
  /** `=` or `!=`. */
  op: '=' | '!='
  /** The parsed JSON array between `#[` and `]`. */
  value: unknown[]
}

/** `!operand` (also written `NOT operand`). */
export interface NotNode {
  /** `not`. */
  type: 'not'
  /** The negated expression. */
  operand: FilterNode
}

/** `left AND right`, `left OR right`; side-by-side terms are `and`. */
export interface BinaryNode {
  /** `and` or `or`. */
  type: 'and' | 'or'
  /** The left operand. */
  left: FilterNode
  /** The right operand. */
  right: FilterNode
}

/** Any node of a filter expression. */
export type FilterNode = TermNode | ServiceNode | EdgeNode | RootCauseNode | JsonNode | NotNode | BinaryNode

/** Every word the language knows, for completion: keywords, functions, operators, logic words. */
export const filterKeywords: readonly string[] = Object.freeze([
  ...booleanKeywords,
  ...numberKeywords,
  ...stringKeywords,
  ...groupKeywords,
  'annotation.',
  'service',
  'edge',
  'id',
  ...['fault', 'error', 'responsetime'].flatMap(f => ['service', 'entity', 'exception'].map(l => `rootcause.${f}.${l}`)),
  'rootcause.json',
  'AND',
  'OR',
  'NOT',
  'CONTAINS',
  'BEGINSWITH',
  'ENDSWITH',
  'true',
  'false'
])
