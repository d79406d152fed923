export { captureAWSClient } from './sdk'
export type {
  AwsBuildArgs, AwsBuildHandler, AwsBuildMiddleware, AwsBuildMiddlewareOptions, AwsBuildOutput, AwsClientLike,
  AwsHandlerContext, AwsInitializeArgs, AwsInitializeHandler, AwsInitializeMiddleware, AwsInitializeMiddlewareOptions,
  AwsMiddlewareStackLike, CaptureAWSClientOptions
} from './sdk'
export { captureSQSHandler } from './sqs'
export type { CaptureSQSHandlerOptions } from './sqs'
export { captureLambdaHandler, enableLambda, lambdaTraceHeader, LambdaContext, LambdaFacadeSegment } from './lambda'
export type { CaptureLambdaHandlerOptions } from './lambda'
export { applyOriginPlugins } from './plugins'
export type { OriginInfo, OriginPlugin, OriginPluginOptions } from './plugins'
