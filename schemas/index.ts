// The one contract module shared by pipeline, gateway, device client and CLI.
export * from './config.js';
export * from './manifest.js';
export * from './device-api.js';
