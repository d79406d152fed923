// Jest runs CommonJS tests in a vm context that cannot serve a dynamic import() of a Node.js
// built-in without --experimental-vm-modules. @aws/lambda-invoke-store loads
// node:async_hooks that way; this transform has it require() the same module instead, and
// changes nothing else, so the tests run the package's own store.
'use strict'

module.exports = {
  process (source) {
    return { code: source.replace(/await import\((['"])(node:[a-z_]+)\1\)/g, 'require($1$2$1)') }
  },
  getCacheKey (source, path) {
    return require('node:crypto').createHash('sha256').update('dynamic-import-as-require:1\0' + path + '\0' + source).digest('hex')
  }
}
