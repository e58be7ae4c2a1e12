#include <cstdio>

int main() {
  std::puts("mailvault");
  return 0;
}
