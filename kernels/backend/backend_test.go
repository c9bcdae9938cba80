package backend

import "testing"

func TestCheckSgemm(t *testing.T) {
	if err := CheckSgemm(false, false, 3, 5, 7, 7, 5, 5, 21, 35, 15); err != nil {
		t.Errorf("valid NN: %v", err)
	}
	if err := CheckSgemm(true, true, 3, 5, 7, 3, 7, 5, 21, 35, 15); err != nil {
		t.Errorf("valid TT: %v", err)
	}
	if err := CheckSgemm(false, false, 3, 5, 7, 6, 5, 5, 21, 35, 15); err == nil {
		t.Error("lda < k accepted")
	}
	if err := CheckSgemm(false, false, 3, 5, 7, 7, 5, 5, 20, 35, 15); err == nil {
		t.Error("short A accepted")
	}
	if err := CheckSgemm(false, false, 0, 0, 0, 1, 1, 1, 0, 0, 0); err != nil {
		t.Errorf("empty: %v", err)
	}
}
