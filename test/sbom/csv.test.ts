import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../sbom/csv.js';

describe('parseCsv', () => {
  it('reads quoted fields, doubled quotes, separators and newlines inside quotes, CRLF, blank lines', () => {
    expect(parseCsv('"PACKAGE","VERSION"\r\n"busybox","1.36.1"\r\n\r\n"x,y","say ""hi""\nthere"\n,\n')).toEqual([
      ['PACKAGE', 'VERSION'],
      ['busybox', '1.36.1'],
      ['x,y', 'say "hi"\nthere'],
      ['', ''],
    ]);
    expect(parseCsv('a,b,c\n1\n')).toEqual([['a', 'b', 'c'], ['1']]);
    expect(parseCsv('')).toEqual([]);
  });
});
