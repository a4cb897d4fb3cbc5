// The one door to @peculiar/x509: it needs reflect-metadata loaded before it (it throws at import
// otherwise) and a crypto provider; both happen here, once, so no other module imports it directly.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
