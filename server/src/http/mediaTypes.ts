/**
 * File types decided by the file's first bytes, never by its name or the client's mimetype.
 * The accepted lists are VisionStory's: image jpg, png, webp, heic; audio mp3, wav, m4a.
 */

export interface MediaType {
  mime: string;
  ext: string;
}

/** Bytes needed to recognise every accepted type. */
export const SNIFF_BYTES = 32;

const ascii = (buf: Buffer, start: number, end: number): string => buf.toString('latin1', start, end);

const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);
const M4A_BRANDS = new Set(['M4A ', 'M4B ', 'mp42', 'mp41', 'isom', 'iso2', 'iso5', 'dash']);

export function sniffImage(head: Buffer): MediaType | null {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return { mime: 'image/jpeg', ext: 'jpg' };
  if (head.length >= 8 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return { mime: 'image/png', ext: 'png' };
  }
  if (head.length >= 12 && ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') return { mime: 'image/webp', ext: 'webp' };
  if (head.length >= 12 && ascii(head, 4, 8) === 'ftyp') {
    const brand = ascii(head, 8, 12);
    // mif1/msf1 are generic HEIF brands; AVIF files use them too, so look for an AVIF brand.
    const rest = ascii(head, 8, Math.min(head.length, 32));
    if (HEIC_BRANDS.has(brand) || ((brand === 'mif1' || brand === 'msf1') && !rest.includes('avif'))) {
      return { mime: 'image/heic', ext: 'heic' };
    }
  }
  return null;
}

export function sniffAudio(head: Buffer): MediaType | null {
  if (head.length >= 12 && ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WAVE') return { mime: 'audio/wav', ext: 'wav' };
  if (head.length >= 3 && ascii(head, 0, 3) === 'ID3') return { mime: 'audio/mpeg', ext: 'mp3' };
  if (head.length >= 12 && ascii(head, 4, 8) === 'ftyp' && M4A_BRANDS.has(ascii(head, 8, 12))) return { mime: 'audio/mp4', ext: 'm4a' };
  if (head.length >= 2 && head[0] === 0xff && (head[1]! & 0xe0) === 0xe0) {
    const layer = (head[1]! >> 1) & 0x03;
    const version = (head[1]! >> 3) & 0x03;
    if (layer !== 0 && version !== 1) return { mime: 'audio/mpeg', ext: 'mp3' }; // MPEG audio frame
    if (layer === 0 && (head[1]! & 0xf6) === 0xf0) return { mime: 'audio/aac', ext: 'aac' }; // ADTS AAC
  }
  return null;
}
