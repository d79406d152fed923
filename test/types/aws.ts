// Compile-only: captureLambdaHandler keeps the handler's type, and an unannotated event is
// the caller's to type (any), not `never`.
import { captureLambdaHandler } from '@xraykit/aws'

const typed = captureLambdaHandler(async (event: { id: string }) => event.id)
const result: Promise<string> = typed({ id: 'order-1' })
void result
// @ts-expect-error the event type of the handler is kept
void typed({ id: 1 })

const untyped = captureLambdaHandler(async (event) => {
  const id: string = event.id
  return { ok: id !== '' }
})
void untyped
