// TPM vendor CAs (`ota fleet tpm-ca`): the manufacturer CAs whose EK certificates the gateway accepts
// as proof that an endorsement key is a TPM's (attestation/ek-certificate.ts). Named by the SHA-256
// of the certificate's DER, like factory CAs; adding one again renames it.
import type { Queryable } from './database.js';
import { asDate } from './rows.js';

export interface TpmVendorCaRecord {
  fingerprint: string;
  name: string;
  certificatePem: string;
  addedAt: Date;
}

type Row = Record<string, unknown>;

const toCa = (r: Row): TpmVendorCaRecord => ({ fingerprint: r.fingerprint as string, name: r.name as string, certificatePem: r.certificate_pem as string, addedAt: asDate(r.added_at as Date) });

export async function addTpmVendorCa(db: Queryable, ca: Omit<TpmVendorCaRecord, 'addedAt'>): Promise<TpmVendorCaRecord> {
  const { rows } = await db.query(
    `INSERT INTO tpm_vendor_cas (fingerprint, name, certificate_pem) VALUES ($1, $2, $3)
     ON CONFLICT (fingerprint) DO UPDATE SET name = $2 RETURNING *`,
    [ca.fingerprint.toLowerCase(), ca.name, ca.certificatePem],
  );
  return toCa(rows[0]!);
}

export async function listTpmVendorCas(db: Queryable): Promise<TpmVendorCaRecord[]> {
  const { rows } = await db.query('SELECT * FROM tpm_vendor_cas ORDER BY name, fingerprint');
  return rows.map(toCa);
}

export async function removeTpmVendorCa(db: Queryable, fingerprint: string): Promise<boolean> {
  return (await db.query('DELETE FROM tpm_vendor_cas WHERE fingerprint = $1', [fingerprint.toLowerCase()])).rowCount > 0;
}
