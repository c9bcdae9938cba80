package imageproc

import (
	"math/rand/v2"
	"testing"
)

// benchImage is a 500×375 photo-like image (the photo fixture upscaled).
func benchImage(b *testing.B) *RGB {
	b.Helper()
	return ResizeBicubic(fixtureRGB(b, "src_photo.png"), 500, 375)
}

// BenchmarkCLIPTransform measures CLIP's test transform of a 500×375 image
// to 3×224×224 (resize to 298×224, center crop, normalise).
func BenchmarkCLIPTransform(b *testing.B) {
	img := benchImage(b)
	b.ResetTimer()
	for b.Loop() {
		out := CLIPTransform(img, 224)
		if len(out) != 3*224*224 {
			b.Fatal("bad length")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkCoOpTrainTransform measures the training augmentation of a
// 500×375 image to 3×224×224.
func BenchmarkCoOpTrainTransform(b *testing.B) {
	img := benchImage(b)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for b.Loop() {
		CoOpTrainTransform(rng, img, 224)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkDecodeJPEG420 measures decoding the 150×103 4:2:0 JPEG fixture
// with fancy upsampling.
func BenchmarkDecodeJPEG420(b *testing.B) {
	for b.Loop() {
		if _, err := LoadRGB(fixtureDir + "/photo.q90_420.jpg"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
