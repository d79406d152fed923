/** Prints a filter syntax tree back to text that parses to the same tree. */
import type { FilterNode, Target, Value } from './ast'

function quote (s: string): string {
  return `"${s.replace(/[\\"]/g, c => `\\${c}`)}"`
}

function value (v: Value): string {
  if (v.type === 'string') return quote(v.value)
  return String(v.value)
}

function target (t: Target): string {
  if (t.kind === 'name') return quote(t.name)
  const parts: string[] = []
  if (t.name !== null) parts.push(`name: ${quote(t.name)}`)
  if (t.type !== null) parts.push(`type: ${quote(t.type)}`)
  return `id(${parts.join(', ')})`
}

function scoped (head: string, filter: FilterNode | null, depth: number): string {
  return filter === null ? head : `${head} { ${print(filter, depth + 1)} }`
}

function print (node: FilterNode, depth: number): string {
  // deeper trees than the parser builds are printed anyway; bound the recursion all the same
  if (depth > 10000) throw new RangeError('filter tree too deep to print')
  switch (node.type) {
    case 'or': {
      const right = node.right.type === 'or' ? `(${print(node.right, depth + 1)})` : print(node.right, depth + 1)
      return `${print(node.left, depth + 1)} OR ${right}`
    }
    case 'and': {
      const left = node.left.type === 'or' ? `(${print(node.left, depth + 1)})` : print(node.left, depth + 1)
      const right = node.right.type === 'or' || node.right.type === 'and' ? `(${print(node.right, depth + 1)})` : print(node.right, depth + 1)
      return `${left} AND ${right}`
    }
    case 'not': {
      const operand = node.operand.type === 'or' || node.operand.type === 'and' ? `(${print(node.operand, depth + 1)})` : print(node.operand, depth + 1)
      return `!${operand}`
    }
    case 'term': {
      const name = node.keyword === 'annotation' ? `annotation.${node.key ?? ''}` : node.keyword
      if (node.op === null || node.value === null) return name
      return `${name} ${node.op.toUpperCase()} ${value(node.value)}`
    }
    case 'service':
      return scoped(`service(${node.target === null ? '' : target(node.target)})`, node.filter, depth)
    case 'edge':
      return scoped(`edge(${target(node.source)}, ${target(node.destination)})`, node.filter, depth)
    case 'rootcause':
      return scoped(`rootcause.${node.family}.${node.level}`, node.filter, depth)
    case 'json':
      return `rootcause.json ${node.op} #${JSON.stringify(node.value)}`
  }
}

/**
 * Prints a syntax tree as a filter expression: `parseFilter(printFilter(ast))` equals `ast`
 * for every tree {@link parseFilter} returns. Keywords come out lower case, operator words
 * upper case, strings quoted, side-by-side terms as `AND`, and parentheses only where needed.
 */
export function printFilter (node: FilterNode): string {
  return print(node, 0)
}
