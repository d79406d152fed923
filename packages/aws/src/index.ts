export { captureAWSClient } from './sdk'
export type {
  AwsBuildArgs, AwsBuildHandler, AwsBuildMiddleware, AwsBuildMiddlewareOptions, AwsBuildOutput, AwsClientLike,
  AwsHandlerContext, AwsMiddlewareStackLike, CaptureAWSClientOptions
} from './sdk'
export { captureLambdaHandler, enableLambda, LambdaContext, LambdaFacadeSegment } from './lambda'
export type { CaptureLambdaHandlerOptions } from './lambda'
export { applyOriginPlugins } from './plugins'
export type { OriginInfo, OriginPlugin, OriginPluginOptions } from './plugins'
