import { HepexError } from '../core/model/errors';
import {
  gridImageSizeError,
  layoutGridImage,
  measureWith,
  paintGridImage,
  type GridImageOptions,
} from './gridImage';
import { rasterizeTileGrid, runtimeFrame, type TileGridData } from './tileRaster';

export interface GridImageRequest extends Omit<GridImageOptions, 'frame' | 'hasPadding'> {
  readonly data: TileGridData;
}

/**
 * The Grid PNG in the browser: lays the image out, refuses (HepexError, in words) an image
 * larger than browsers accept before allocating it, rasterizes the layer at one pixel per
 * weight onto a scratch canvas, paints title, layer and legend onto a fresh canvas and encodes
 * it. Nothing here is on screen; the on-screen grid is untouched.
 */
export async function renderGridImage(request: GridImageRequest, doc = document): Promise<Blob> {
  const { data } = request;
  const options: GridImageOptions = {
    ...request,
    frame: runtimeFrame(data.tiling),
    hasPadding: data.paddingFrom !== undefined && data.paddingFrom < data.tiling.inputs,
  };
  const out = doc.createElement('canvas');
  const ctx = out.getContext('2d');
  if (!ctx)
    throw new HepexError('invalid-argument', 'This browser gives no 2-D canvas to draw the image.');
  const layout = layoutGridImage(options, measureWith(ctx));
  const tooLarge = gridImageSizeError(layout, request.scale);
  if (tooLarge) throw new HepexError('invalid-argument', tooLarge);

  const raster = rasterizeTileGrid(data, request.mode, request.palette, request.maxAbs);
  const source = doc.createElement('canvas');
  source.width = raster.width;
  source.height = raster.height;
  const sctx = source.getContext('2d');
  if (!sctx)
    throw new HepexError('invalid-argument', 'This browser gives no 2-D canvas to draw the image.');
  const pixels = sctx.createImageData(raster.width, raster.height);
  pixels.data.set(raster.pixels);
  sctx.putImageData(pixels, 0, 0);

  // Sizing a canvas resets its context; the painter sets every state it uses.
  out.width = layout.width;
  out.height = layout.height;
  paintGridImage(ctx, layout, { ...options, image: source });
  return new Promise((resolve, reject) =>
    out.toBlob(
      (blob) =>
        blob
          ? resolve(blob)
          : reject(
              new HepexError(
                'out-of-memory',
                `The browser could not encode the ${layout.width} × ${layout.height} px grid image; try 1 px / weight.`,
              ),
            ),
      'image/png',
    ),
  );
}
