// A buffered Lambda handler for test/lambda, run by aws-lambda-ric on the built packages
// (`npm run build`). The task dir is no workspace package, so the packages are imported by path.
import { setTimeout as delay } from 'node:timers/promises'
import { xrayRecorder } from '../../../../packages/core/dist/index.mjs'
import { captureLambdaHandler } from '../../../../packages/aws/dist/index.mjs'

xrayRecorder.configure({ service: 'orders' })

// event: { order, waits?: [ms, ms, ms], fail?: message }
export const handler = captureLambdaHandler(async (event) => {
  const [before = 0, inside = 0, after = 0] = event.waits ?? []
  await delay(before)
  const total = await xrayRecorder.captureAsync('work', async (work) => {
    work.putAnnotation('order', event.order)
    await delay(inside)
    return await xrayRecorder.captureAsync('price', async (price) => {
      price.putAnnotation('order', event.order)
      return event.order * 10
    })
  })
  await delay(after)
  if (event.fail !== undefined) throw new Error(event.fail)
  return { order: event.order, total }
})
