// One A/B slot backed by a file (simulation, tests) or a block device (a real partition): stream an
// image into it, make it durable, hash what it holds. Writing is only ever allowed into the slot we
// are not running from, and never into a device that is mounted.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { SlotName } from '../boot/boot-state.js';
import { blockDeviceSize, mountPointsOfDevice } from './mounted-devices.js';

export class SlotWriteRefused extends Error {
  override name = 'SlotWriteRefused';
}

export interface SlotDeviceOptions {
  /** Bytes the slot can hold. Block devices know their own size; a file slot grows unless this is set. */
  capacity?: number;
}

export class SlotDevice {
  constructor(
    readonly slot: SlotName,
    readonly path: string,
    private readonly options: SlotDeviceOptions = {},
  ) {}

  /** Capacity in bytes, or undefined for an unbounded file slot. */
  async capacity(): Promise<number | undefined> {
    const info = await stat(this.path);
    if (info.isBlockDevice()) return (await blockDeviceSize(info.rdev)) ?? this.options.capacity;
    return this.options.capacity;
  }

  /**
   * A stream that writes an image from byte 0 of the slot. Its 'finish' comes after fsync, so
   * `await pipeline(source, stream)` means the image is durable. Refuses the booted slot, a
   * mounted device, a missing path, and images larger than the capacity.
   */
  async openForWrite(booted: SlotName): Promise<SlotWriteStream> {
    if (this.slot === booted) {
      throw new SlotWriteRefused(`refusing to write slot ${this.slot} (${this.path}): it is the active (booted) slot; install into the other slot`);
    }
    const info = await stat(this.path).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new SlotWriteRefused(`slot ${this.slot} path ${this.path} does not exist`) : error;
    });
    if (info.isBlockDevice()) {
      const mounts = await mountPointsOfDevice(info.rdev);
      if (mounts.length) throw new SlotWriteRefused(`refusing to write slot ${this.slot} (${this.path}): it is mounted at ${mounts.join(', ')}`);
    } else if (!info.isFile()) {
      throw new SlotWriteRefused(`slot ${this.slot} path ${this.path} is neither a regular file nor a block device`);
    }
    // A file slot is truncated so no tail of an older, longer image lingers; a block device keeps its size.
    const handle = await open(this.path, info.isBlockDevice() ? 'r+' : 'w');
    return new SlotWriteStream(handle, this.slot, await this.capacity());
  }

  /** Flush the slot's data to stable storage (for a block device, its cache too). */
  async fsync(): Promise<void> {
    const handle = await open(this.path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

export class SlotWriteStream extends Writable {
  private position = 0;
  private handle: FileHandle | undefined;

  constructor(handle: FileHandle, readonly slot: SlotName, readonly capacity: number | undefined) {
    super();
    this.handle = handle;
  }

  get bytesWritten(): number {
    return this.position;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.capacity !== undefined && this.position + chunk.length > this.capacity) {
      callback(new SlotWriteRefused(`image does not fit slot ${this.slot}: more than ${this.capacity} bytes`));
      return;
    }
    this.writeAll(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const handle = this.handle!;
    this.handle = undefined;
    handle
      .sync()
      .finally(() => handle.close())
      .then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) return callback(error);
    handle.close().then(() => callback(error), () => callback(error));
  }

  private async writeAll(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await this.handle!.write(chunk, offset, chunk.length - offset, this.position);
      offset += bytesWritten;
      this.position += bytesWritten;
    }
  }
}
