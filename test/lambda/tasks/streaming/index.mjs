// A streaming Lambda handler for test/lambda, run by aws-lambda-ric on the built packages
// (`npm run build`). `awslambda` is the global the runtime sets up before loading this file.
import { setTimeout as delay } from 'node:timers/promises'
import { xrayRecorder } from '../../../../packages/core/dist/index.mjs'
import { captureLambdaHandler } from '../../../../packages/aws/dist/index.mjs'

xrayRecorder.configure({ service: 'orders' })

// event: { waitMs }
export const handler = captureLambdaHandler(globalThis.awslambda.streamifyResponse(async (event, stream) => {
  stream.write('a')
  await delay(event.waitMs)
  // The last write comes after the handler has returned, so the invocation's subsegment can
  // only end after it by waiting for the stream, not for the handler. The sync capture
  // closes 'last-write' before the stream can emit 'finish'.
  setTimeout(() => xrayRecorder.capture('last-write', () => stream.end('b')), event.waitMs)
}))
