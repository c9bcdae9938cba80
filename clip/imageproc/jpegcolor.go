package imageproc

import "image"

// libjpeg's jdcolor.c tables for YCbCr→RGB (SCALEBITS = 16).
var crR, cbB, crG, cbG [256]int32

func init() {
	const scaleBits = 16
	const oneHalf = 1 << (scaleBits - 1)
	fix := func(x float64) int32 { return int32(x*(1<<scaleBits) + 0.5) }
	for i := 0; i < 256; i++ {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + oneHalf) >> scaleBits
		cbB[i] = (fix(1.77200)*x + oneHalf) >> scaleBits
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + oneHalf
	}
}

// clamp255 is libjpeg's range_limit.
func clamp255(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// ycbcrToRGBLibjpeg converts a decoded JPEG's planes as libjpeg-turbo does
// with its defaults (do_fancy_upsampling = TRUE): fancy upsampling of the
// chroma planes (jdsample.c h2v2_fancy_upsample, h2v1_fancy_upsample,
// h1v2_fancy_upsample, int_upsample), then ycc_rgb_convert. It returns nil for
// subsampling ratios it does not handle or images whose rectangle does not
// start at the origin.
func ycbcrToRGBLibjpeg(m *image.YCbCr) *RGB {
	if m.Rect.Min != (image.Point{}) {
		return nil
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	var hs, vs int // horizontal, vertical subsampling factor
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case image.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio411:
		hs, vs = 4, 1
	case image.YCbCrSubsampleRatio410:
		hs, vs = 4, 2
	default:
		return nil
	}
	// libjpeg's downsampled_width/height: ceil(size / factor).
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	cb := upsample(m.Cb, m.CStride, cw, ch, hs, vs)
	cr := upsample(m.Cr, m.CStride, cw, ch, hs, vs)
	uw := cw * hs // row length of the upsampled planes
	out := NewRGB(w, h)
	for y := 0; y < h; y++ {
		yrow := m.Y[y*m.YStride : y*m.YStride+w]
		cbrow := cb[y*uw : y*uw+w]
		crrow := cr[y*uw : y*uw+w]
		dst := out.Pix[3*y*w : 3*(y+1)*w]
		for x, yv := range yrow {
			yy := int32(yv)
			b, r := cbrow[x], crrow[x]
			dst[3*x] = clamp255(yy + crR[r])
			dst[3*x+1] = clamp255(yy + (cbG[b]+crG[r])>>16)
			dst[3*x+2] = clamp255(yy + cbB[b])
		}
	}
	return out
}

// upsample expands a cw×ch chroma plane (row stride stride) by hs×vs with
// libjpeg-turbo's fancy upsampling, returning a (cw*hs)×(ch*vs) plane. As in
// libjpeg, the rows above the first and below the last are copies of them,
// and planes too narrow for the fancy h2 methods (cw <= 2) are replicated,
// as are 4:1:1 and 4:1:0 planes (libjpeg's int_upsample).
func upsample(p []uint8, stride, cw, ch, hs, vs int) []uint8 {
	uw, uh := cw*hs, ch*vs
	out := make([]uint8, uw*uh)
	row := func(y int) []uint8 {
		y = min(max(y, 0), ch-1)
		return p[y*stride : y*stride+cw]
	}
	switch {
	case hs == 4:
		for y := 0; y < uh; y++ {
			in, o := row(y/vs), out[y*uw:(y+1)*uw]
			for x := range o {
				o[x] = in[x/hs]
			}
		}
	case hs == 1 && vs == 1:
		for y := 0; y < ch; y++ {
			copy(out[y*uw:], row(y))
		}
	case hs == 2 && vs == 1:
		for y := 0; y < ch; y++ {
			in, o := row(y), out[y*uw:(y+1)*uw]
			if cw <= 2 {
				for x, v := range in {
					o[2*x], o[2*x+1] = v, v
				}
				continue
			}
			// h2v1_fancy_upsample
			o[0] = in[0]
			o[1] = uint8((int(in[0])*3 + int(in[1]) + 2) >> 2)
			for x := 1; x < cw-1; x++ {
				v := int(in[x]) * 3
				o[2*x] = uint8((v + int(in[x-1]) + 1) >> 2)
				o[2*x+1] = uint8((v + int(in[x+1]) + 2) >> 2)
			}
			v := int(in[cw-1])
			o[2*cw-2] = uint8((v*3 + int(in[cw-2]) + 1) >> 2)
			o[2*cw-1] = uint8(v)
		}
	case hs == 1 && vs == 2:
		// h1v2_fancy_upsample
		for y := 0; y < ch; y++ {
			in0 := row(y)
			for v := 0; v < 2; v++ {
				in1, bias := row(y-1), 1
				if v == 1 {
					in1, bias = row(y+1), 2
				}
				o := out[(2*y+v)*uw : (2*y+v+1)*uw]
				for x := range o {
					o[x] = uint8((int(in0[x])*3 + int(in1[x]) + bias) >> 2)
				}
			}
		}
	case hs == 2 && vs == 2:
		for y := 0; y < ch; y++ {
			in0 := row(y)
			for v := 0; v < 2; v++ {
				o := out[(2*y+v)*uw : (2*y+v+1)*uw]
				if cw <= 2 { // h2v2_upsample: plain replication
					for x, c := range in0 {
						o[2*x], o[2*x+1] = c, c
					}
					continue
				}
				// h2v2_fancy_upsample
				in1 := row(y - 1)
				if v == 1 {
					in1 = row(y + 1)
				}
				this := int(in0[0])*3 + int(in1[0])
				next := int(in0[1])*3 + int(in1[1])
				o[0] = uint8((this*4 + 8) >> 4)
				o[1] = uint8((this*3 + next + 7) >> 4)
				last := this
				this = next
				for x := 2; x < cw; x++ {
					next = int(in0[x])*3 + int(in1[x])
					o[2*x-2] = uint8((this*3 + last + 8) >> 4)
					o[2*x-1] = uint8((this*3 + next + 7) >> 4)
					last, this = this, next
				}
				o[2*cw-2] = uint8((this*3 + last + 8) >> 4)
				o[2*cw-1] = uint8((this*4 + 7) >> 4)
			}
		}
	}
	return out
}
