import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validation, Spec } from '@cyclonedx/cyclonedx-library';
import { describe, expect, it, beforeAll } from 'vitest';
import { buildSbom, type SbomResult } from '../../sbom/build-sbom.js';
import { assertValidCycloneDx } from '../../sbom/cdx-io.js';
import { readTar } from '../../platform/tar-reader.js';
import { fixture, makeRootfs, packTar, sha256File, tempDir, type Rootfs } from '../fixtures/sbom/make-rootfs.js';

type Json = Record<string, any>;
const components = (sbom: SbomResult): Json[] => sbom.json['components'] as Json[];
const purls = (sbom: SbomResult) => components(sbom).map((c) => c['purl']).filter(Boolean).sort();
const CREATED = '2024-05-01T12:00:00Z';

describe('tar reader', () => {
  for (const format of ['gnu', 'pax', 'ustar'] as const) {
    it(`reads ${format} archives made by system tar, including long paths`, async () => {
      const rootfs = makeRootfs({ longPath: format !== 'ustar' });
      const tar = packTar(rootfs.dir, join(tempDir(), 'fs.tar'), { format });
      const seen = new Map<string, string>();
      for await (const entry of readTar(createReadStream(tar))) {
        if (entry.type !== 'file') continue;
        const h = createHash('sha256');
        for await (const chunk of entry.body()) h.update(chunk);
        seen.set(entry.path.replace(/^\.\//, '/'), h.digest('hex'));
      }
      for (const [imagePath, file] of Object.entries(rootfs.elf)) {
        if (imagePath.endsWith('-hardlink')) continue; // hard links carry no body
        expect(seen.get(imagePath), imagePath).toBe(sha256File(file));
      }
      expect(seen.get('/var/lib/dpkg/status')).toBe(sha256File(fixture('dpkg-status')));
    });
  }

  it('rejects input that is not a tar archive', async () => {
    const bad = join(tempDir(), 'x.tar');
    writeFileSync(bad, Buffer.alloc(2048, 7));
    await expect(async () => {
      for await (const _ of readTar(createReadStream(bad))) void _;
    }).rejects.toThrow(/checksum/);
  });
});

describe('buildSbom on a tar root filesystem', () => {
  let rootfs: Rootfs;
  let tarPath: string;
  let sbom: SbomResult;

  beforeAll(async () => {
    rootfs = makeRootfs({ longPath: true });
    tarPath = packTar(rootfs.dir, join(tempDir(), 'rootfs.tar'));
    sbom = await buildSbom({
      image: { path: tarPath, version: '1.4.0', hardware: 'gw-imx8-rev2', sha256: sha256File(tarPath) },
      created: CREATED,
    });
  });

  it('describes the image as the firmware metadata component', () => {
    const meta = (sbom.json['metadata'] as Json)['component'] as Json;
    expect(meta['type']).toBe('firmware');
    expect(meta['name']).toBe('gw-imx8-rev2');
    expect(meta['version']).toBe('1.4.0');
    expect(meta['hashes']).toEqual([{ alg: 'SHA-256', content: sha256File(tarPath) }]);
    expect(meta['properties']).toContainEqual({ name: 'edge-ota:image:size', value: String(readFileSync(tarPath).length) });
    expect((sbom.json['metadata'] as Json)['timestamp']).toBe('2024-05-01T12:00:00.000Z');
  });

  it('lists dpkg, apk and npm packages with exact purls', () => {
    expect(purls(sbom)).toEqual(
      [
        'pkg:apk/alpine/busybox@1.36.1-r5?arch=x86_64',
        'pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64',
        'pkg:apk/alpine/ssl_client@1.36.1-r5?arch=x86_64',
        'pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64',
        'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64',
        'pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64',
        'pkg:npm/%40sigstore/verify@3.1.1',
        'pkg:npm/ota-agent@2.3.1',
        'pkg:opkg/openwrt/dropbear@2022.82-6?arch=aarch64_cortex-a53',
        'pkg:opkg/openwrt/libubox20240329@2024.03.29~eb9bcb64-1?arch=aarch64_cortex-a53',
      ].sort(),
    );
    // deinstalled dpkg entries are not components
    expect(components(sbom).find((c) => c['name'] === 'telnet')).toBeUndefined();
    const musl = components(sbom).find((c) => c['name'] === 'musl')!;
    expect(musl['licenses']).toEqual([{ license: { id: 'MIT' } }]);
  });

  it('hashes every ELF executable and shared object, and nothing else', () => {
    const files = components(sbom).filter((c) => c['type'] === 'file');
    const byName = Object.fromEntries(files.map((f) => [f['name'], f]));
    expect(Object.keys(byName).sort()).toEqual(Object.keys(rootfs.elf).sort());
    for (const [imagePath, staged] of Object.entries(rootfs.elf)) {
      expect(byName[imagePath]['hashes']).toEqual([{ alg: 'SHA-256', content: sha256File(staged) }]);
      expect(byName[imagePath]['bom-ref']).toBe(`file:${imagePath}`);
    }
    expect(byName['/usr/lib/libz.so.1']?.['properties']).toContainEqual({ name: 'edge-ota:elf:type', value: 'shared' });
  });

  it('uses purls as bom-refs and exposes them for VEX', () => {
    for (const c of components(sbom).filter((c) => c['purl'])) {
      expect(c['bom-ref']).toBe(c['purl']);
      expect(sbom.bomRefsByPurl[c['purl']]).toBe(c['bom-ref']);
    }
  });

  it('is valid CycloneDX 1.6 per the strict schema', async () => {
    expect(sbom.json['specVersion']).toBe('1.6');
    expect(sbom.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const errors = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(sbom.text);
    expect(errors).toBeNull();
  });

  it('reads gzipped tars to the same components', async () => {
    const tgz = packTar(rootfs.dir, join(tempDir(), 'rootfs.tar.gz'), { gzip: true });
    const gz = await buildSbom({ image: { path: tgz, version: '1.4.0', hardware: 'gw-imx8-rev2' }, created: CREATED });
    expect(components(gz)).toEqual(components(sbom));
    const meta = (gz.json['metadata'] as Json)['component'] as Json;
    expect(meta['hashes'][0]['content']).toBe(sha256File(tgz)); // digest of the file as shipped
  });

  it('is byte-identical for identical inputs, and the seed drives the serial number', async () => {
    const again = await buildSbom({
      image: { path: tarPath, version: '1.4.0', hardware: 'gw-imx8-rev2' },
      created: CREATED,
    });
    expect(again.text).toBe(sbom.text);
    const seeded = await buildSbom({
      image: { path: tarPath, version: '1.4.0', hardware: 'gw-imx8-rev2' },
      created: CREATED,
      serialSeed: 'other',
    });
    expect(seeded.serialNumber).not.toBe(sbom.serialNumber);
  });

  it('refuses an image whose digest does not match', async () => {
    await expect(
      buildSbom({ image: { path: tarPath, version: '1', name: 'x', sha256: '0'.repeat(64) }, created: CREATED }),
    ).rejects.toThrow(/sha256 is [0-9a-f]{64}, expected 0{64}/);
  });

  it('adds the distro from os-release to deb purls', async () => {
    const withOs = makeRootfs({ osRelease: true });
    const tar = packTar(withOs.dir, join(tempDir(), 'deb.tar'));
    const res = await buildSbom({ image: { path: tar, version: '1', name: 'deb-image' }, created: CREATED });
    expect(purls(res)).toContain('pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12');
    expect(res.distro).toEqual({ id: 'debian', versionId: '12' });
  });
});

describe('buildSbom from component files handed in by the build', () => {
  let raw: string;
  beforeAll(() => {
    raw = join(tempDir(), 'firmware.bin');
    writeFileSync(raw, Buffer.from('raw flash image, not a tar'.repeat(100)));
  });
  const build = (files: string[]) =>
    buildSbom({ image: { path: raw, version: '2.0.0', name: 'sensor-fw' }, componentFiles: files.map(fixture), created: CREATED });

  it('buildroot manifest.csv -> pkg:generic with licenses and source site', async () => {
    const res = await build(['manifest.csv']);
    expect(purls(res)).toEqual([
      'pkg:generic/busybox@1.36.1',
      'pkg:generic/dropbear@2022.83',
      'pkg:generic/libopenssl@3.1.4',
      'pkg:generic/linux@6.1.44',
      'pkg:generic/skeleton-init-sysv',
      'pkg:generic/zlib@1.3',
    ]);
    const busybox = components(res).find((c) => c['name'] === 'busybox')!;
    expect(busybox['licenses']).toEqual([{ license: { id: 'GPL-2.0' } }]);
    expect(busybox['externalReferences']).toEqual([
      { type: 'distribution', url: 'https://www.busybox.net/downloads/busybox-1.36.1.tar.bz2' },
    ]);
    const dropbear = components(res).find((c) => c['name'] === 'dropbear')!;
    expect(dropbear['licenses']).toEqual([{ license: { name: 'MIT, BSD-2-Clause, Public domain' } }]);
    expect(components(res).find((c) => c['name'] === 'linux')!['type']).toBe('operating-system');
  });

  it('SPDX 2.3 JSON -> packages with purls and checksums, minus the described image', async () => {
    const res = await build(['spdx.json']);
    const names = components(res).map((c) => c['name']).sort();
    expect(names).toEqual(['curl', 'mosquitto', 'wifi-firmware-blob']);
    const curl = components(res).find((c) => c['name'] === 'curl')!;
    expect(curl['purl']).toBe('pkg:generic/curl@8.4.0');
    expect(curl['type']).toBe('application');
    expect(curl['hashes']).toEqual([{ alg: 'SHA-256', content: '16c62a9c4af0f703d28bda6d7bbf37ba47055ad3414d70dec63e2e6336f2a82d' }]);
    expect(components(res).find((c) => c['name'] === 'mosquitto')!['licenses']).toEqual([{ expression: 'EPL-2.0 OR BSD-3-Clause' }]);
    expect(components(res).find((c) => c['name'] === 'wifi-firmware-blob')!['bom-ref']).toBe('component:wifi-firmware-blob');
  });

  it('CycloneDX JSON -> nested components flattened', async () => {
    const res = await build(['cyclonedx.json']);
    expect(purls(res)).toEqual(['pkg:npm/%40sigstore/verify@3.1.1', 'pkg:npm/mqtt@5.3.4', 'pkg:npm/ws@8.16.0']);
  });

  it('dpkg status and apk db files; duplicates across inputs collapse by purl', async () => {
    const res = await build(['dpkg-status', 'apk-installed', 'dpkg-status']);
    expect(purls(res)).toHaveLength(6);
    const libc = components(res).find((c) => c['name'] === 'libc6')!;
    expect(libc['properties']).toContainEqual({ name: 'edge-ota:deb:source', value: 'glibc' });
  });

  it('rejects a file in an unknown format, naming it', async () => {
    const odd = join(tempDir(), 'notes.txt');
    writeFileSync(odd, 'hello');
    await expect(
      buildSbom({ image: { path: raw, version: '1', name: 'x' }, componentFiles: [odd], created: CREATED }),
    ).rejects.toThrow(/notes\.txt: unrecognised component file/);
  });

  it('scanRootfs: true on a non-tar image is an error', async () => {
    await expect(
      buildSbom({ image: { path: raw, version: '1', name: 'x' }, created: CREATED, scanRootfs: true }),
    ).rejects.toThrow(/not a tar/);
  });

  it('schema validation rejects broken documents', async () => {
    await expect(assertValidCycloneDx(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ name: 'x' }] }))).rejects.toThrow(
      /schema validation/,
    );
  });
});
