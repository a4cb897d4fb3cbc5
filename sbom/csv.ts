// RFC 4180 CSV (quoted fields, doubled quotes, commas/newlines inside quotes) into rows of strings, on csv-parse.
// Records end at LF or CRLF (mixed alike), blank lines are skipped, rows may differ in length, and a quote inside
// an unquoted field is kept as text.
// An unterminated quoted field throws (CsvError) rather than swallowing the rest of the file.
import { parse } from 'csv-parse/sync';

export function parseCsv(text: string): string[][] {
  return parse(text, { record_delimiter: ['\r\n', '\n'], relax_column_count: true, relax_quotes: true, skip_empty_lines: true }) as string[][];
}
