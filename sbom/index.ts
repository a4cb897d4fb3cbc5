// Public API of the SBOM/VEX slice.
export { buildSbom, ImageDigestMismatchError, type BuildSbomInput, type SbomImage, type SbomResult } from './build-sbom.js';
export { buildVex, VexComponentError, type BuildVexInput, type VexResult, type VexSbomRef } from './build-vex.js';
export { VexStatementError, parseVexStatements, readVexStatements, type VexStatement } from './vex-statements.js';
export { parseScanReport, readScanReport, type Finding } from './scan-reports.js';
export { bomLink, parseBomLink } from './sbom-index.js';
export { CycloneDxValidationError, assertValidCycloneDx } from './cdx-io.js';
export type { OpenVexDocument, OpenVexStatement } from './openvex.js';
export { readTar, TarFormatError, type TarEntry } from '../platform/tar-reader.js';
